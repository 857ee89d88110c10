"""The strings of the health page and alerts, Vietnamese and English; review_ui.i18n merges them into its tables."""

from __future__ import annotations

VI_HEALTH: dict[str, str] = {
    "health_alerts": "Cảnh báo hệ thống",
    "level_critical": "Nghiêm trọng",
    "level_warning": "Cảnh báo",
    "alert_since": "từ {time}",
    "alert_detector_unavailable": "Nhận dạng phương tiện/người đang tắt",
    "alert_spool_quota": "Bộ đệm ghi hình sắp đầy",
    "alert_store_unavailable": "Không kết nối được kho lưu trữ",
    "alert_camera_offline": "Camera không ghi hình",
    # what to do, in the reader's language; the system's own message follows as the detail
    "alert_do_detector_unavailable": "Vẫn phát hiện chuyển động, nhưng chưa nhận dạng xe máy, ô tô, người. Đặt tệp mô "
                                     "hình (ví dụ yolo11n.pt) đúng đường dẫn detect.model_path rồi khởi động lại dịch "
                                     "vụ ghi hình.",
    "alert_do_spool_quota": "Không đoạn ghi nào bị xoá. Khôi phục kết nối tới kho lưu trữ hoặc cấp thêm dung lượng "
                            "đĩa cho bộ đệm.",
    "alert_do_store_unavailable": "Các đoạn ghi được giữ trong bộ đệm và tự tải lên khi kho lưu trữ hoạt động trở "
                                  "lại. Kiểm tra máy chủ lưu trữ (MinIO/S3) và đường mạng tới nó.",
    "alert_do_camera_offline": "Kiểm tra nguồn điện, dây mạng và tài khoản/mật khẩu của camera; trang Tình trạng cho "
                               "biết lý do.",
    "alert_detail": "Chi tiết kỹ thuật",
    "nav_health": "Tình trạng",
    "health_title": "Tình trạng camera",
    "health_cameras": "Camera đang dùng",
    "health_online": "Đang ghi hình",
    "health_down": "Không ghi hình",
    "health_storage": "Dung lượng lưu",
    "health_hint": "Camera không ghi hình quá {minutes} phút sẽ được cảnh báo trên mọi trang, và gửi tới địa chỉ nhận cảnh báo (webhook) nếu đã cấu hình.",
    "health_state": "Trạng thái",
    "health_fps": "Khung hình/giây",
    "health_bitrate": "Tốc độ bit",
    "health_last_frame": "Khung hình cuối",
    "health_retention": "Lưu giữ",
    "health_days": "{n} ngày",
    "health_segments": "{n} đoạn",
    "health_disabled": "Đã tắt",
    "health_alert": "Cảnh báo",
    "health_down_since": "không ghi từ {time}",
    "health_no_cameras": "Chưa có camera nào.",
    "status_online": "Đang ghi hình",
    "status_connecting": "Đang kết nối",
    "status_offline": "Mất kết nối",
    "status_auth_failed": "Sai tài khoản/mật khẩu",
    "status_unsupported_stream": "Luồng không hỗ trợ",
    "status_disk_full": "Đầy ổ đĩa",
    "status_error": "Lỗi",
    "status_unknown": "Chưa rõ",
    "status_stopped": "Đã dừng ghi",
}

EN_HEALTH: dict[str, str] = {
    "health_alerts": "System alerts",
    "level_critical": "Critical",
    "level_warning": "Warning",
    "alert_since": "since {time}",
    "alert_detector_unavailable": "Object detection is off",
    "alert_spool_quota": "Recording spool over quota",
    "alert_store_unavailable": "Object store unreachable",
    "alert_camera_offline": "Camera not recording",
    "alert_do_detector_unavailable": "Motion events go on, but motorbikes, cars and people are not recognised. Put "
                                     "the model file (e.g. yolo11n.pt) at detect.model_path and restart the recording "
                                     "service.",
    "alert_do_spool_quota": "No footage is deleted. Restore the connection to the object store or give the spool "
                            "more disk.",
    "alert_do_store_unavailable": "Segments are kept in the spool and upload by themselves when the store answers "
                                  "again. Check the storage server (MinIO/S3) and the network to it.",
    "alert_do_camera_offline": "Check the camera's power, network cable and user/password; the Health page says why.",
    "alert_detail": "Technical detail",
    "nav_health": "Health",
    "health_title": "Camera health",
    "health_cameras": "Cameras in use",
    "health_online": "Recording",
    "health_down": "Not recording",
    "health_storage": "Footage kept",
    "health_hint": "A camera not recording for more than {minutes} minutes raises an alert (on every page, and to the webhook when one is set).",
    "health_state": "State",
    "health_fps": "Frames/s",
    "health_bitrate": "Bitrate",
    "health_last_frame": "Last frame",
    "health_retention": "Kept for",
    "health_days": "{n} days",
    "health_segments": "{n} segments",
    "health_disabled": "Disabled",
    "health_alert": "Alert",
    "health_down_since": "not recording since {time}",
    "health_no_cameras": "No cameras yet.",
    "status_online": "Recording",
    "status_connecting": "Connecting",
    "status_offline": "Unreachable",
    "status_auth_failed": "Wrong user name or password",
    "status_unsupported_stream": "Unsupported stream",
    "status_disk_full": "Disk full",
    "status_error": "Error",
    "status_unknown": "Not known yet",
    "status_stopped": "Stopped recording",
}
