"""The strings of the live wall, Vietnamese and English; review_ui.i18n merges them into its tables."""

from __future__ import annotations

VI_LIVE: dict[str, str] = {
    "nav_live": "Xem trực tiếp",
    "live_title": "Xem trực tiếp",
    "live_layout": "Số ô mỗi màn hình",
    "live_layout_n": "{n} ô",
    "live_hint": "Bấm vào một ô để xem lớn camera đó (luồng chính).",
    "live_back": "« Quay lại màn hình tổng",
    "live_no_cameras": "Chưa có camera nào đang hoạt động.",
    "live_connecting": "Đang kết nối…",
    "live_mode_webrtc": "Trực tiếp",
    "live_mode_snapshot": "Ảnh tĩnh, cập nhật vài giây một lần (không xem trực tiếp được)",
    "live_unavailable": "Không xem được camera này",
    "live_offline": "Camera đang mất tín hiệu",
    "live_status_offline": "không kết nối được camera",
    "live_status_auth_failed": "camera từ chối tên đăng nhập hoặc mật khẩu",
    "live_status_unsupported_stream": "luồng video không phải H.264",
    "live_status_disk_full": "ổ ghi hình đầy",
    "live_status_error": "lỗi camera",
    "live_status_unknown": "chưa nhận được hình từ camera",
    "live_status_connecting": "đang kết nối tới camera",
    "live_status_stopped": "camera đã dừng ghi hình",
}

EN_LIVE: dict[str, str] = {
    "nav_live": "Live",
    "live_title": "Live view",
    "live_layout": "Tiles per screen",
    "live_layout_n": "{n} tiles",
    "live_hint": "Click a tile to see that camera large (main stream).",
    "live_back": "« Back to the wall",
    "live_no_cameras": "No camera is enabled yet.",
    "live_connecting": "Connecting…",
    "live_mode_webrtc": "Live",
    "live_mode_snapshot": "Still pictures every few seconds (live video could not connect)",
    "live_unavailable": "This camera cannot be shown",
    "live_offline": "Camera offline",
    "live_status_offline": "the camera cannot be reached",
    "live_status_auth_failed": "the camera refused the user name or password",
    "live_status_unsupported_stream": "the video stream is not H.264",
    "live_status_disk_full": "the recording disk is full",
    "live_status_error": "camera error",
    "live_status_unknown": "no picture from the camera yet",
    "live_status_connecting": "connecting to the camera",
    "live_status_stopped": "the camera has stopped recording",
}
