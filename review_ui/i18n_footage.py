"""The strings of the footage search, Vietnamese and English; review_ui.i18n merges them into its tables."""

from __future__ import annotations

VI_FOOTAGE: dict[str, str] = {
    "nav_footage": "Tìm hình",
    "footage_title": "Tìm hình đã ghi",
    "cameras": "Camera",
    "day": "Ngày",
    "play_from": "Phát từ phút",
    "search": "Tìm",
    "footage_hint": "Mỗi ô là 10 phút: xanh đậm là đã ghi đủ, xanh nhạt là ghi một phần, xám là không có hình; vạch đỏ là có sự kiện. Bấm vào ô để phát từ đó.",
    "choose_cameras": "Chọn một hay nhiều camera và một ngày.",
    "cov_full": "đã ghi",
    "cov_part": "ghi một phần",
    "cov_none": "không có hình",
    "events_this_day": "Sự kiện trong ngày",
    "download_range": "Tải đoạn này (MP4)",
    "download_bad_time": "Ngày hoặc giờ tải về không hợp lệ: chọn ngày và giờ dạng giờ:phút, ví dụ 09:30.",
    "download_too_long": "Mỗi lần chỉ tải được tối đa {hours} giờ; hãy tải đoạn dài hơn thành nhiều phần.",
    "download_nothing": "Camera {camera} không ghi được hình nào từ {start} đến {end} (camera mất kết nối, hoặc hình đã quá thời hạn lưu).",
    "invalid_day": "Ngày không hợp lệ: {value}",
    "invalid_minute": "Phút không hợp lệ: {value}",
}

EN_FOOTAGE: dict[str, str] = {
    "nav_footage": "Footage",
    "footage_title": "Recorded footage",
    "cameras": "Cameras",
    "day": "Day",
    "play_from": "Play from minute",
    "search": "Search",
    "footage_hint": "Each cell is 10 minutes: dark green fully recorded, light green partly, grey nothing; a red bar marks events. Click a cell to play from there.",
    "choose_cameras": "Choose one or more cameras and a day.",
    "cov_full": "recorded",
    "cov_part": "partly recorded",
    "cov_none": "no footage",
    "events_this_day": "Events that day",
    "download_range": "Download this range (MP4)",
    "download_bad_time": "The day or times to download are not valid: choose a day and times as hours:minutes, e.g. 09:30.",
    "download_too_long": "At most {hours} hours can be downloaded at once; download a longer stretch in several parts.",
    "download_nothing": "Camera {camera} recorded nothing from {start} to {end} (it was offline, or the footage is older than its retention).",
    "invalid_day": "Not a valid day: {value}",
    "invalid_minute": "Not a valid minute: {value}",
}
