"""Code lists: GB/T 39046-2020 annex A (as used here) and the roles of staff.

Values are the codes stored and written to spreadsheets; ``LABELS`` maps each code to its Chinese name, and
:func:`parse_code` accepts either.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Level(IntEnum):
    """A.2 行使层级 — also the level of an organisation unit."""

    NATIONAL = 1  # 国家级
    PROVINCE = 2  # 省级（自治区）
    CITY = 3  # 市级
    COUNTY = 4  # 县级（区）
    TOWNSHIP = 5  # 乡级（镇、街道）
    VILLAGE = 6  # 村级（社区）


class ItemType(StrEnum):
    """A.1 事项类型."""

    LICENSING = "01"  # 行政许可
    PENALTY = "02"  # 行政处罚
    ENFORCEMENT = "03"  # 行政强制
    LEVY = "04"  # 行政征收
    BENEFIT = "05"  # 行政给付
    INSPECTION = "06"  # 行政检查
    CONFIRMATION = "07"  # 行政确认
    REWARD = "08"  # 行政奖励
    ADJUDICATION = "09"  # 行政裁决
    OTHER_POWER = "10"  # 其他行政权力
    PUBLIC_SERVICE = "20"  # 公共服务


class BodyNature(StrEnum):
    """A.3 实施主体性质."""

    STATUTORY = "1"  # 法定机关
    AUTHORISED = "2"  # 法律法规授权组织
    ENTRUSTED = "3"  # 受委托组织


class ServiceObject(StrEnum):
    """A.4 服务对象."""

    PERSON = "1"  # 自然人
    ENTERPRISE = "2"  # 企业法人
    INSTITUTION = "3"  # 事业单位法人
    SOCIAL_ORG = "4"  # 社会组织法人
    UNINCORPORATED = "5"  # 非法人企业
    GOVERNMENT = "6"  # 行政机关
    OTHER = "9"  # 其他组织


class Channel(StrEnum):
    """A.5 办理形式."""

    WINDOW = "1"  # 窗口办理
    PC = "2"  # 网上办理（PC 端）
    MOBILE = "3"  # 移动端办理
    COURIER = "4"  # 快递申请


class TimeUnit(StrEnum):
    WORKING_DAYS = "工作日"
    CALENDAR_DAYS = "自然日"


class Role(StrEnum):
    CLERK = "clerk"  # 受理
    REVIEWER = "reviewer"  # 审核
    APPROVER = "approver"  # 审批
    DEPT_ADMIN = "dept_admin"  # 部门管理员
    CENTER_ADMIN = "center_admin"  # 中心管理员
    TECHNICIAN = "technician"  # 技术人员
    OPS_VIEWER = "ops_viewer"  # 运维查看
    SUPERVISOR = "supervisor"  # 电子监察


LABELS: dict[type[StrEnum] | type[IntEnum], dict[str, str]] = {
    Level: {"1": "国家级", "2": "省级", "3": "市级", "4": "县级", "5": "乡级", "6": "村级"},
    ItemType: {
        "01": "行政许可", "02": "行政处罚", "03": "行政强制", "04": "行政征收", "05": "行政给付",
        "06": "行政检查", "07": "行政确认", "08": "行政奖励", "09": "行政裁决", "10": "其他行政权力",
        "20": "公共服务",
    },
    BodyNature: {"1": "法定机关", "2": "法律法规授权组织", "3": "受委托组织"},
    ServiceObject: {
        "1": "自然人", "2": "企业法人", "3": "事业单位法人", "4": "社会组织法人", "5": "非法人企业",
        "6": "行政机关", "9": "其他组织",
    },
    Channel: {"1": "窗口办理", "2": "网上办理", "3": "移动端办理", "4": "快递申请"},
    Role: {
        "clerk": "受理", "reviewer": "审核", "approver": "审批", "dept_admin": "部门管理员",
        "center_admin": "中心管理员", "technician": "技术人员", "ops_viewer": "运维查看", "supervisor": "电子监察",
    },
}  # fmt: skip


def parse_code(kind: type[StrEnum] | type[IntEnum], text: str) -> str:
    """The code for ``text`` (a code or its Chinese name) in list ``kind``; ``ValueError`` if neither."""
    text = text.strip()
    labels = LABELS[kind]
    if text in labels:
        return text
    for code, label in labels.items():
        if label == text:
            return code
    raise ValueError(f"“{text}”不是有效的代码（可选：{'、'.join(f'{c} {n}' for c, n in labels.items())}）")
