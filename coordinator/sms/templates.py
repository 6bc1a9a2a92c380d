"""The zh-CN texts of the notices, one per case event (``{name}`` and the others filled from the case)."""

from __future__ import annotations

from typing import Final

SIGNATURE: Final = "【宁夏政务服务】"

TEMPLATES: Final[dict[str, str]] = {
    "accepted": "{name}您好，您申请的“{item}”已受理，办件编号{code}，可凭编号查询办理进度。",
    "supplement_requested": "{name}您好，您申请的“{item}”（办件编号{code}）需要补正材料：{missing}。"
    "请一次性补齐后到原窗口提交。",
    "concluded": "{name}您好，您申请的“{item}”（办件编号{code}）已办结，结果：{outcome}。",
    "result_ready": "{name}您好，您申请的“{item}”（办件编号{code}）办理结果已可领取，"
    "请携带本人身份证件到{place}领取。",
    "result_mailed": "{name}您好，您申请的“{item}”（办件编号{code}）办理结果已邮寄送出，请注意查收。",
}
EVENTS: Final = ("accepted", "supplement_requested", "concluded", "result_ready")
"""case events that send a notice (``result_ready`` with ``delivery: mail`` uses ``result_mailed``)"""

OUTCOMES: Final = {
    "approved": "准予许可", "denied": "不予许可", "withdrawn": "申请人撤回", "voided": "作废",
}  # fmt: skip


def render(kind: str, values: dict[str, str]) -> str:
    """The text of notice ``kind`` (a key of :data:`TEMPLATES`); missing values read as empty."""
    template = TEMPLATES[kind]
    return SIGNATURE + template.format_map(_Blank(values))


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678`` (for logs and the API)."""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"
