"""Statistics boards (内网门户): the daily pre-aggregate (:mod:`.aggregate`) and the board queries (:mod:`.boards`)."""
