"""The one message catalogue: every user-facing text in Simplified Chinese and English.

Codes are stable English identifiers (``case_not_found``, ``duty_overdue``); what a person
reads is rendered from the code, in their language, when it is shown::

    render("tile_too_large", "zh", {"limit": 500_000, "zoom": 12, "size": 812_000})
    negotiate("en-US,en;q=0.9")  # "en"

Chinese is the default language; English is given on ``Accept-Language: en``
(:func:`negotiate`). Each :class:`Message` has a Chinese and an English template in
``str.format`` style with named fields. A template with fields has a plain form without
them (``zh_plain``/``en_plain``), used when a caller lacks a value (an old stored row, an
error raised without that fact). Parameters named in ``labels`` are codes themselves
(a roster role, a check status) and are rendered from :data:`LABELS` first.

The English text an error was raised with is more specific than a per-code template (one
code, e.g. ``invalid_time``, covers several rules), so :func:`render` keeps a ``fallback``
text written in the wanted language (Chinese text for ``zh``, other text for ``en``) and
uses the catalogue only for the other language.

Families: domain error codes (``infra.errors`` and each package's ``errors.py``), HTTP
problem titles (:func:`title`), per-item codes (track points, layer import rejections and
repairs, sync receipts), alerts (``alert.<kind>``), and the field messages of schema
validation (:func:`validation_message`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "DEFAULT_LANG",
    "LABELS",
    "MESSAGES",
    "TITLES",
    "Lang",
    "Message",
    "label",
    "negotiate",
    "placeholders",
    "render",
    "title",
    "validation_detail",
    "validation_message",
]

Lang = Literal["zh", "en"]
DEFAULT_LANG: Final[Lang] = "zh"


@dataclass(frozen=True, slots=True)
class Message:
    zh: str
    en: str
    zh_plain: str = ""
    en_plain: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    def template(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en

    def plain(self, lang: Lang) -> str:
        if lang == "zh":
            return self.zh_plain or self.zh
        return self.en_plain or self.en


def _m(zh: str, en: str, zh_plain: str = "", en_plain: str = "", **labels: str) -> Message:
    return Message(zh, en, zh_plain, en_plain, labels)


# -- vocabularies: codes that appear as values inside messages -----------------------------------

LABELS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "duty_role": {
        "township_leader": ("乡镇领导班子成员", "township leader"),
        "safety_officer": ("乡镇安监站工作人员", "safety officer"),
        "village_liaison_cadre": ("联村干部", "village liaison cadre"),
        "land_resources_staff": ("国土资源所工作人员", "land resources staff"),
        "village_cadre": ("村干部", "village cadre"),
    },
    "check_status": {
        "still_closed": ("仍处于关停状态", "still closed"),
        "signs_of_reopening": ("有复工迹象", "signs of reopening"),
        "active_mining": ("正在开采", "active mining"),
    },
    "review_source": {
        "evidence": ("拍摄了取证材料", "evidence was taken"),
        "finding": ("记录了巡查发现", "a finding was recorded"),
    },
    "view_type": {
        "far": ("远景", "far view"),
        "close": ("近景", "close-up"),
        "corner": ("四至", "corner"),
        "interior": ("内部", "interior"),
    },
    "coverage_csv": {
        "kind": ("类型", "kind"),
        "id": ("编号", "id"),
        "code": ("代码", "code"),
        "name": ("名称", "name"),
        "patrols": ("巡查次数", "patrols"),
        "quota": ("月度要求次数", "quota"),
        "quota_met": ("是否达标", "quota_met"),
        "night_patrols": ("夜间巡查次数", "night_patrols"),
        "night_required": ("夜间要求次数", "night_required"),
        "weeks_met": ("达标周数", "weeks_met"),
        "weeks_total": ("总周数", "weeks_total"),
        "distance_km": ("巡查里程（公里）", "distance_km"),
        "hours": ("巡查时长（小时）", "hours"),
        "targets_visited": ("已到访目标数", "targets_visited"),
        "targets_planned": ("计划目标数", "targets_planned"),
        "duty_compliance": ("五包一履职率", "duty_compliance"),
    },
    "geometry_problem": {
        "empty": ("空几何", "empty"),
        "wrong_type": ("不是面（Polygon/MultiPolygon）", "not a Polygon or MultiPolygon"),
        "non_finite": ("坐标含非有限数", "coordinates are not finite"),
        "out_of_range": ("坐标超出经纬度范围", "coordinates out of range"),
        "malformed": ("格式错误", "malformed"),
        "invalid": ("无法修复", "not repairable"),
        "nothing_stored": ("没有可存储的要素", "no feature could be stored"),
    },
    "layer_kind": {
        "parcels": ("地类图斑", "parcels"),
        "planning_zones": ("规划分区", "planning_zones"),
        "mine_sites": ("矿点", "mine_sites"),
        "change_polygons": ("变化图斑", "change_polygons"),
    },
    # the report of ``patrol layers import`` (``str.format`` fields ``n``, ``reason``, ``name``)
    "cli_import": {
        "dry_run": ("试导入，未存储", "dry run, nothing stored"),
        "version": ("第 {n} 版", "version {n}"),
        "format": ("格式", "format"),
        "source_crs": ("源坐标系", "source CRS"),
        "read": ("读取", "read"),
        "stored": ("存储", "stored"),
        "repaired": ("修复", "repaired"),
        "rejected": ("拒收", "rejected"),
        "layer": ("图层", "layer"),
        "encoding": ("编码", "encoding"),
        "warning": ("警告", "warning"),
        "repaired_feature": ("已修复要素 {n}：{reason}", "repaired feature {n}: {reason}"),
        "rejected_feature": ("拒收要素 {n}：{reason}", "rejected feature {n}: {reason}"),
        "more": ("……另有 {n} 条（见图层版本）", "... and {n} more (see the layer version)"),
        "no_features": (
            "{name} 中没有带几何图形的要素（为空、全为空值或只有空白），未导入任何内容",
            "{name} has no feature with a geometry (empty, all null or only whitespace); "
            "nothing imported",
        ),
    },
    "role": {
        "inspector": ("巡查员", "inspector"),
        "joint_team": ("联合执法队员", "joint team member"),
        "captain": ("队长", "captain"),
        "security_squad": ("治安中队", "security squad"),
        "admin": ("管理员", "admin"),
    },
}


def label(vocabulary: str, code: str, lang: Lang) -> str:
    """A code's name in ``lang`` (the code itself when the vocabulary does not know it)."""
    names = LABELS.get(vocabulary, {}).get(code)
    if names is None:
        return code
    return names[0] if lang == "zh" else names[1]


# -- problem titles, by HTTP status --------------------------------------------------------------

TITLES: Final[dict[int, tuple[str, str]]] = {
    400: ("请求格式有误", "Bad Request"),
    401: ("未登录或凭据无效", "Unauthorized"),
    403: ("无权执行此操作", "Forbidden"),
    404: ("未找到", "Not Found"),
    405: ("不支持该请求方法", "Method Not Allowed"),
    406: ("无法提供所要求的格式", "Not Acceptable"),
    409: ("与当前状态冲突", "Conflict"),
    413: ("请求体过大", "Content Too Large"),
    415: ("不支持的内容类型", "Unsupported Media Type"),
    422: ("请求无法受理", "Unprocessable Content"),
    429: ("请求过于频繁", "Too Many Requests"),
    500: ("服务器内部错误", "Internal Server Error"),
    503: ("服务暂时不可用", "Service Unavailable"),
}


def title(status: int, lang: Lang) -> str:
    zh, en = TITLES.get(status, ("请求失败", "Request failed"))
    return zh if lang == "zh" else en


# -- the catalogue -------------------------------------------------------------------------------

MESSAGES: Final[dict[str, Message]] = {
    # generic families (infra.errors and the HTTP layer)
    "domain_error": _m("请求未能完成", "the request could not be completed"),
    "not_found": _m("未找到所请求的资源", "not found"),
    "conflict": _m("当前状态不允许此操作", "the current state forbids this"),
    "invalid_input": _m("输入不符合要求", "the input is not acceptable"),
    "permission_denied": _m("无权执行此操作", "you may not do this"),
    "not_authenticated": _m(
        "请先登录：请求须带 Authorization: Bearer <令牌>", "send Authorization: Bearer <token>"
    ),
    "rate_limited": _m("请求过于频繁，请稍后再试", "too many attempts; try again later"),
    "unavailable": _m("服务暂时不可用，请稍后再试", "a service is unavailable; try again shortly"),
    "bad_request": _m("请求格式有误", "the request is malformed"),
    "method_not_allowed": _m("该地址不支持此请求方法", "this method is not allowed here"),
    "not_acceptable": _m("无法按所要求的格式应答", "no acceptable representation"),
    "body_too_large": _m(
        "请求体超过服务器允许的大小", "the body is larger than the server accepts"
    ),
    "unsupported_media_type": _m("不支持此内容类型", "this content type is not accepted"),
    "internal_error": _m(
        "服务器发生意外错误，已连同请求编号记入日志",
        "an unexpected error occurred; it has been logged with the request id",
    ),
    "validation_error": _m("请求内容不符合接口定义", "the request breaks the schema"),
    "malformed_body": _m("无法解析请求体", "could not decode the body"),
    "invalid_character": _m("文本不得包含 NUL 字符", "text may not contain the NUL character"),
    "unknown_parameter": _m(
        "此操作不接受参数“{name}”（查询参数或表单字段）",
        "this operation takes no parameter '{name}' (query parameter or form field)",
        "此操作不接受该参数",
        "this operation does not take that parameter",
    ),
    "number_out_of_range": _m(
        "数值超出范围：整数须在 64 位有符号整数以内，且须为有限数",
        "numbers must be finite and integers must fit in a signed 64-bit number",
    ),
    "nesting_too_deep": _m(
        "数组和对象最多嵌套 {limit} 层",
        "arrays and objects may nest at most {limit} levels",
        "数组和对象嵌套过深",
        "arrays and objects nest too deeply",
    ),
    "database_unavailable": _m("数据库暂时不可用，请稍后再试", "the database is not available"),
    "storage_unavailable": _m(
        "文件存储暂时不可用，请稍后再试", "the object store is not available"
    ),
    # accounts and access
    "account_disabled": _m("账号已停用", "account is disabled"),
    "invalid_credentials": _m("用户名或密码错误", "wrong username or password"),
    "invalid_refresh_token": _m(
        "刷新令牌无效、已过期或已被使用", "refresh token is invalid, expired or already used"
    ),
    "login_busy": _m("同时登录的人过多，请稍后再试", "too many logins at once; try again shortly"),
    "login_locked": _m(
        "登录失败次数过多，请 {retry_after_s} 秒后再试",
        "too many failed logins; try again in {retry_after_s} s",
        "登录失败次数过多，请稍后再试",
        "too many failed logins; try again later",
    ),
    "password_too_short": _m("密码过短", "the password is too short"),
    "username_taken": _m("用户名已被占用", "username is taken"),
    "user_not_found": _m("未找到该用户", "user not found"),
    "device_not_found": _m("未找到该设备令牌", "device token not found"),
    "self_lockout": _m(
        "管理员不能停用自己或降低自己的角色", "admins cannot disable or demote themselves"
    ),
    "role_not_allowed": _m("您的角色无权执行此操作", "your role may not do this"),
    "not_platform_admin": _m(
        "只有平台管理员（PATROL_PLATFORM_ADMINS 中的管理员）可以创建或列出县",
        "only platform admins (PATROL_PLATFORM_ADMINS) may create or list counties",
    ),
    # organisation: counties, townships, villages
    "county_not_found": _m("未找到该县", "county not found"),
    "township_not_found": _m("未找到该乡镇", "township not found"),
    "village_not_found": _m("未找到该村", "village not found"),
    "duplicate_county": _m("该行政区划代码已有县", "a county with this admin code exists"),
    "invalid_admin_code": _m(
        "行政区划代码须为 6、9 或 12 位数字", "the admin code must be 6, 9 or 12 digits"
    ),
    "invalid_province_code": _m("省级代码须为 2 位数字", "the province code must be 2 digits"),
    "invalid_name": _m("名称须为 1 到 100 个字符", "the name must be 1 to 100 characters"),
    "invalid_boundary": _m("边界文件无效", "the boundary file is not usable"),
    "code_taken": _m("该编码已被使用", "this code is already used"),
    "unknown_township": _m("本县没有该乡镇", "unknown township for this county"),
    "unknown_village": _m("本县没有该村", "unknown village for this county"),
    "unknown_user": _m("本县没有这些用户", "unknown users for this county"),
    # contract areas, targets, plans
    "area_not_found": _m("未找到该承包区域", "contract area not found"),
    "area_inactive": _m("该承包区域已停用", "this contract area is no longer active"),
    "target_not_found": _m("未找到该巡查目标", "target not found"),
    "rule_not_found": _m("未找到该规则", "rule not found"),
    "duplicate_code": _m("已有相同编码的区域", "an area with this code exists"),
    "invalid_grade": _m("等级须为 1、2 或 3", "grade must be 1, 2 or 3"),
    "invalid_radius": _m(
        "到访半径须大于 0 且不超过 10000 米", "visit radius must be in (0, 10000] m"
    ),
    "invalid_target_kind": _m("巡查目标类型无效", "unknown target kind"),
    "unknown_target": _m(
        "目标须为本区域的有效巡查目标", "targets must be active targets of the area"
    ),
    "not_area_member": _m(
        "您不是该承包区域的负责人或成员", "you are not the leader or a member of this contract area"
    ),
    # patrols, sign-ins, findings, tracks
    "patrol_not_found": _m("未找到该巡查记录", "patrol not found"),
    "not_patrol_owner": _m("该巡查属于他人", "this patrol belongs to someone else"),
    "not_finding_editor": _m(
        "只有该巡查的队员和队长可以修改此发现",
        "only the patrol's crew and captains may edit this finding",
    ),
    "patrol_already_ended": _m("该巡查已结束", "this patrol has already ended"),
    "id_reused": _m("该编号已被其他记录使用", "this id is already used"),
    "invalid_patrol_input": _m("巡查数据不符合要求", "the patrol data is not acceptable"),
    "invalid_time": _m("时间无效", "the time is not valid"),
    "implausible_time": _m(
        "时间过早，请检查手机时钟", "the time is too long ago; check the phone's clock"
    ),
    "invalid_coordinates": _m("坐标无效或超出范围", "coordinates missing or out of range"),
    "invalid_accuracy": _m(
        "定位精度须在 0 到 10000 米之间", "accuracy must be between 0 and 10000 m"
    ),
    "invalid_status": _m("状态值无效", "unknown status"),
    "invalid_month": _m("月份格式应如 2026-11", "month must look like 2026-11"),
    "invalid_period": _m("导出时段须为 1 到 31 天", "the export covers 1 to 31 days"),
    "manual_sign_in_needs_reason": _m(
        "手动签到须填写原因代码和所在村", "a manual sign-in needs a reason code and a village"
    ),
    "too_many_points": _m(
        "每批最多 {limit} 个点",
        "at most {limit} points per batch",
        "一批中的点数过多",
        "too many points in one batch",
    ),
    "future_time": _m("时间比当前时间晚 5 分钟以上", "time is more than 5 minutes in the future"),
    "before_start": _m("时间早于巡查开始时间", "time is before the patrol started"),
    "after_end": _m("时间晚于巡查结束时间", "time is after the patrol ended"),
    "patrol_ended": _m(
        "巡查已结束，轨迹不再接收新的点", "the patrol has ended; its track takes no more points"
    ),
    "outside_county": _m("位置在本县范围之外", "the position is outside the county"),
    "points_rejected": _m("所有轨迹点均被拒收", "every point was rejected"),
    # five-to-one duty and alerts
    "site_not_found": _m("该点位没有包保名单", "no roster for this site"),
    "not_roster_member": _m(
        "您不在该点位的五包一名单中", "you are not on this site's five-to-one roster"
    ),
    "alert_not_found": _m("未找到该预警", "alert not found"),
    # mine sites and the roster register
    "mine_site_not_found": _m("未找到该矿点", "mine site not found"),
    "duplicate_site_code": _m("该矿点编号已登记", "site code already registered"),
    "invalid_roster": _m("包保名单数据不符合要求", "the roster entry is not acceptable"),
    # geofence: layers, imports, checks
    "layer_not_found": _m(
        "没有图层 {layer}", "unknown layer {layer}", "没有该图层", "unknown layer"
    ),
    "layer_version_not_found": _m("未找到该图层版本", "layer version not found"),
    "import_job_not_found": _m("未找到该导入任务", "import job not found"),
    "import_abandoned": _m(
        "执行导入的服务器在完成前停止，请重新上传文件",
        "the server running the import stopped before it finished; upload the file again",
    ),
    "import_interrupted": _m(
        "导入期间服务器关闭，请重新上传文件",
        "the server shut down during the import; upload the file again",
    ),
    "unsupported_file": _m(
        "无法读取该文件：请上传 GeoJSON、Shapefile（zip）、GeoPackage 或 KML",
        "the file cannot be read as a supported layer format",
    ),
    "no_features": _m(
        "文件中没有带几何图形的要素，未导入任何内容", "the file has no feature with a geometry"
    ),
    "unknown_source_layer": _m("文件中没有指定的图层", "the file has no such layer"),
    "unknown_encoding": _m("无法识别的字符编码", "unknown text encoding"),
    "invalid_field_map": _m("字段对应关系无效", "the field map is not valid"),
    "unknown_layer_kind": _m("图层类型无效", "unknown layer kind"),
    "unknown_crs": _m("坐标系无法识别或不受支持", "unknown or unsupported coordinate system"),
    "invalid_geometry": _m(
        "几何图形无效：{reason}",
        "invalid geometry: {reason}",
        "几何图形无效",
        "the geometry is not valid",
        reason="geometry_problem",
    ),
    "too_many_vertices": _m(
        "一个几何图形最多 {limit} 个坐标点",
        "a geometry may have at most {limit} positions",
        "几何图形的坐标点过多",
        "the geometry has too many positions",
    ),
    "crs_offset_suspected": _m(
        "坐标疑似为偏移坐标系而非 WGS84/CGCS2000，如确是，请指定 crs={suggested_crs} 重新导入",
        "the coordinates look offset (not WGS84/CGCS2000); if so, import again with "
        "crs={suggested_crs}",
        "坐标疑似为偏移坐标系而非 WGS84/CGCS2000",
        "the coordinates look offset (not WGS84/CGCS2000)",
    ),
    "geometry_rejected": _m(
        "几何图形无效：{why}",
        "invalid geometry: {why}",
        "几何图形无效",
        "invalid geometry",
        why="geometry_problem",
    ),
    "feature_outside_county": _m(
        "位于本县范围之外（坐标系是否有误？）", "lies outside the county (wrong coordinate system?)"
    ),
    "invalid_attributes": _m(
        "属性值无效：{problem}", "attributes: {problem}", "属性值无效", "bad attributes"
    ),
    "degenerate_polygon": _m(
        "面积或宽度过小的退化多边形：面积 {area_m2} 平方米，平均宽度 {width_m} 米",
        "degenerate polygon: area {area_m2} m², mean width {width_m} m",
        "面积或宽度过小的退化多边形",
        "degenerate polygon",
    ),
    "dropped_z": _m("已去除 Z 坐标", "dropped Z coordinates"),
    "geometry_repaired": _m(
        "已修复几何错误：{why}", "repaired: {why}", "已修复几何错误", "repaired the geometry"
    ),
    # sync
    "batch_too_large": _m(
        "每次推送最多 {limit} 项操作，请分批",
        "at most {limit} operations per push; split the batch",
        "一次推送的操作过多，请分批",
        "too many operations in one push; split the batch",
    ),
    "cursor_malformed": _m("同步游标格式无效", "not a cursor issued by this server"),
    "cursor_invalid": _m("同步游标签名校验失败", "cursor signature does not verify"),
    "cursor_not_yours": _m("该同步游标属于其他用户", "this cursor was issued to another user"),
    "cursor_stale": _m(
        "同步游标已失效，请不带游标重新拉取并替换本地数据",
        "this cursor is stale; pull without a cursor and replace local data",
    ),
    "sync_busy": _m(
        "该数据流正在被另一次拉取读取，请稍后重试", "another pull of this stream is running"
    ),
    "page_cursor_invalid": _m("分页参数无效", "not a page's next value"),
    "tile_not_found": _m("瓦片坐标无效", "not a valid tile coordinate"),
    "tile_too_large": _m(
        "第 {zoom} 级瓦片过大（{size} 字节，上限 {limit} 字节），请放大后再看",
        "the tile at zoom {zoom} is too large ({size} bytes, limit {limit}); zoom in",
        "瓦片过大，请放大后再看",
        "the tile is too large; zoom in",
    ),
    "unknown_op_type": _m("未知的操作类型", "unknown operation type"),
    "invalid_op": _m("操作内容不符合接口定义", "the operation breaks the schema"),
    "op_id_reused": _m("该操作编号已用于另一项操作", "this op id was used for another operation"),
    "op_not_supported": _m(
        "本服务器不支持此操作", "this operation is not available on this server"
    ),
    "version_conflict": _m(
        "服务器上的记录已在您之后被修改", "the record was changed on the server since your copy"
    ),
    # evidence: uploads and custody
    "upload_not_found": _m("未找到该上传", "upload not found"),
    "evidence_not_found": _m("未找到该证据", "evidence not found"),
    "derivative_not_found": _m("该证据的派生文件尚未生成或不存在", "derivative not found"),
    "not_upload_owner": _m("该上传属于他人", "this upload belongs to someone else"),
    "not_evidence_editor": _m("您无权修改该证据的说明", "you may not edit this evidence"),
    "evidence_id_conflict": _m(
        "该证据编号已用于另一份声明", "this evidence id names another declaration"
    ),
    "upload_aborted": _m("该上传已被放弃", "the upload was aborted"),
    "upload_already_accepted": _m("该上传已被接收为证据", "the upload was already accepted"),
    "upload_incomplete": _m("文件尚未全部上传", "not all parts have arrived"),
    "invalid_upload": _m("上传声明不符合要求", "the upload declaration is not acceptable"),
    "invalid_id": _m("编号无效", "the id is not valid"),
    "invalid_sha256": _m("SHA-256 值无效", "the SHA-256 is not valid"),
    "invalid_md5": _m("MD5 值无效", "the MD5 is not valid"),
    "invalid_size": _m("文件大小无效", "the size is not valid"),
    "invalid_part_size": _m("分片大小无效", "the part size is not valid"),
    "invalid_part_md5s": _m("分片 MD5 列表无效", "the part MD5 list is not valid"),
    "invalid_heading": _m("拍摄方向无效", "the heading is not valid"),
    "invalid_view_type": _m("视角类型无效", "unknown view type"),
    "invalid_text": _m("文字说明不符合要求", "the text is not acceptable"),
    "invalid_cursor": _m("分页游标无效", "the cursor is not valid"),
    "upload_too_large": _m(
        "文件过大：上限 {limit} 字节",
        "the file is too large: at most {limit} bytes",
        "文件过大",
        "the file is too large",
    ),
    "file_empty": _m("文件为空", "the file is empty"),
    "evidence_hash_mismatch": _m(
        "收到的文件与声明的 SHA-256 不一致", "the stored bytes do not match the declared SHA-256"
    ),
    "evidence_size_mismatch": _m(
        "收到的文件大小（{stored} 字节）与声明的大小（{declared} 字节）不一致",
        "the stored size ({stored} bytes) differs from the declared size ({declared} bytes)",
        "收到的文件大小与声明不一致",
        "the stored size differs from the declaration",
    ),
    "evidence_type_mismatch": _m(
        "文件内容（{detected}）与声明的类型（{declared}）不一致",
        "the bytes ({detected}) are not the declared type ({declared})",
        "文件内容与声明的类型不一致",
        "the bytes are not the declared type",
    ),
    "file_corrupt": _m("文件已损坏或不完整", "the file is truncated or corrupt"),
    "image_too_large": _m(
        "图像像素过多（{width}×{height}，上限 {max_pixels} 像素）",
        "the image has too many pixels ({width}×{height}, at most {max_pixels})",
        "图像像素过多",
        "the image has too many pixels",
    ),
    "reference_not_found": _m(
        "关联的案件、巡查、发现或矿点不存在或无权关联",
        "the referenced record does not exist or may not be used",
    ),
    "multipart_upload_not_found": _m("未找到该分片上传", "multipart upload not found"),
    "object_not_found": _m("存储中没有该文件", "object not found"),
    "object_protected": _m("该文件受保留策略保护，不能删除或覆盖", "the object is protected"),
    "object_rejected": _m("文件存储拒收了该文件", "the object store refused the bytes"),
    # cases, screening, referrals, packages
    "case_not_found": _m("未找到该案件", "case not found"),
    "finding_not_found": _m("未找到该发现", "finding not found"),
    "referral_not_found": _m("未找到该移送记录", "referral not found"),
    "case_source_not_found": _m("未找到案件来源（发现或变化图斑）", "case source not found"),
    "invalid_status_transition": _m(
        "案件不能从“{status}”变为“{requested}”",
        "the case cannot move from {status} to {requested}",
        "当前案件状态不允许此变更",
        "the case status does not allow this change",
    ),
    "case_not_flagged": _m("请先将案件标记为拟移送", "flag the case for referral first"),
    "referral_already_open": _m("该案件已有进行中的移送", "the case has an open referral"),
    "step_out_of_order": _m(
        "移送步骤顺序有误，下一步应为 {expected_step}",
        "step out of order; the next step is {expected_step}",
        "移送步骤顺序有误",
        "step out of order",
    ),
    "reconsideration_window_closed": _m(
        "复议须在不予立案后 3 日内提出",
        "reconsideration must be asked within 3 days of the refusal",
    ),
    "case_has_no_evidence": _m("该案件没有可打包的证据", "the case has no evidence to package"),
    "case_no_taken": _m("该案件编号已被使用", "this case number is taken"),
    "case_closed": _m("案件已办结，只能查看", "the case is finished and read-only"),
    "rule_exists": _m(
        "该编码的规则在此日期已有生效版本", "a rule with this code already starts on this date"
    ),
    "package_source_mismatch": _m(
        "存储的原始文件与接收时的哈希值不一致", "a stored original no longer matches its hash"
    ),
    "package_tampered": _m("证据包校验未通过", "the package failed verification"),
    "package_signing_key_missing": _m(
        "未配置证据包签名密钥", "no package signing key is configured"
    ),
    "invalid_case": _m("案件数据不符合要求", "the case data is not acceptable"),
    "invalid_violation_kind": _m("违法类型无效", "unknown violation kind"),
    "invalid_source": _m("案件来源无效", "the case source is not valid"),
    "invalid_party": _m("当事人信息无效", "the party is not valid"),
    "invalid_amount": _m("金额或数量须为数字", "the amount must be a number"),
    "invalid_area": _m("面积无效", "the area is not valid"),
    "invalid_penalty": _m("处罚信息无效", "the penalty is not valid"),
    "invalid_team": _m("办案人员名单无效", "the team is not valid"),
    "reason_required": _m("须填写理由", "a reason is required"),
    "unknown_evidence": _m(
        "部分证据编号不是本县的证据", "some evidence ids are not evidence of this county"
    ),
    "team_too_small": _m(
        "移送须有至少两名执法人员", "a referral needs a team of at least two officers"
    ),
    "unknown_team_member": _m(
        "成员须为本县在职人员", "team members must be active users of this county"
    ),
    "invalid_step": _m("移送步骤数据不符合要求", "the step is not acceptable"),
    "report_required": _m("移送须附调查报告", "the referral needs the team's report"),
    "police_unit_required": _m("须填写接收的公安机关", "name the police unit"),
    "invalid_material": _m("材料类型无效", "unknown material kind"),
    "invalid_flag_subject": _m("标记对象无效", "the flag subject is not valid"),
    "missing_materials": _m("移送缺少必需的材料", "the transfer lacks required materials"),
    "invalid_rule": _m("规则不符合要求", "the rule is not acceptable"),
    # alerts (``alert.<kind>``; the stored message is the Chinese rendering)
    "alert.duty_overdue": _m(
        "{site}：{role}{name}逾期未巡查（每 {cycle_days} 天一次）",
        "{site}: {role} {name} is overdue (every {cycle_days} days)",
        "包保人员逾期未巡查",
        "a roster member is overdue",
        role="duty_role",
    ),
    "alert.site_reopening": _m(
        "{site}：{role}报告{status}",
        "{site}: {status} reported by the {role}",
        "已关停点位有复工迹象",
        "signs of reopening at a closed site",
        role="duty_role",
        status="check_status",
    ),
    "alert.site_active_mining": _m(
        "{site}：{role}报告{status}",
        "{site}: {status} reported by the {role}",
        "已关停点位正在开采",
        "active mining at a closed site",
        role="duty_role",
        status="check_status",
    ),
    "alert.site_rebound_review": _m(
        "{site}：已关停点位{source}，请核查是否死灰复燃",
        "{site}: {source} at a closed site; check whether it is reopening",
        "已关停点位有新记录，请核查是否死灰复燃",
        "a closed site has a new record; check whether it is reopening",
        source="review_source",
    ),
    "alert.referral_suggested": _m(
        "{subject}达到移送标准，建议审查是否移送：{crime}（{rule_code}）",
        "{subject} meets a referral threshold; review whether to refer it: {crime} ({rule_code})",
        "达到移送标准，建议审查是否移送公安机关",
        "meets a referral threshold; review whether to refer it to the police",
    ),
}

_FIELD = string.Formatter()


def placeholders(template: str) -> set[str]:
    """The named fields of a ``str.format`` template."""
    return {name for _, name, _, _ in _FIELD.parse(template) if name}


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _written_in(text: str, lang: Lang) -> bool:
    return bool(_CJK.search(text)) == (lang == "zh")


def render(
    code: str,
    lang: Lang = DEFAULT_LANG,
    params: Mapping[str, Any] | None = None,
    fallback: str | None = None,
) -> str:
    """The message for ``code`` in ``lang``, its fields filled from ``params``.

    A ``fallback`` already written in ``lang`` (the text an error was raised with) wins; a
    code the catalogue does not know gives the fallback, or the code itself.
    """
    if fallback and _written_in(fallback, lang):
        return fallback
    entry = MESSAGES.get(code)
    if entry is None:
        return fallback or code
    values = dict(params or {})
    for name, vocabulary in entry.labels.items():
        if isinstance(values.get(name), str):
            values[name] = label(vocabulary, values[name], lang)
    try:
        return entry.template(lang).format_map(values)
    except (KeyError, IndexError, ValueError):
        return entry.plain(lang)


# -- Accept-Language -----------------------------------------------------------------------------


def negotiate(header: str | None) -> Lang:
    """``zh`` or ``en`` for an ``Accept-Language`` header, by q-value (ties: first listed).

    Chinese when the header is missing, names neither language, or prefers ``*``.
    """
    best: tuple[float, int, Lang] | None = None
    for position, item in enumerate((header or "").split(",")):
        tag, _, rest = item.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        for param in rest.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.split("-", 1)[0]
        lang: Lang | None = "en" if primary == "en" else "zh" if primary in {"zh", "*"} else None
        if lang is None or q <= 0.0:
            continue
        if best is None or q > best[0]:
            best = (q, position, lang)
    return DEFAULT_LANG if best is None else best[2]


# -- schema validation (msgspec's messages) ------------------------------------------------------

_TYPE_NAMES: Final[dict[str, str]] = {
    "int": "整数",
    "float": "数字",
    "str": "字符串",
    "bool": "布尔值",
    "null": "空值",
    "array": "数组",
    "object": "对象",
    "uuid": "UUID",
    "datetime": "带时区的日期时间",
    "date": "日期",
    "time": "时间",
    "decimal": "十进制数",
    "bytes": "二进制数据",
}

_OPS: Final[dict[str, str]] = {">=": "不小于", "<=": "不大于", ">": "大于", "<": "小于"}


def _type_zh(spec: str) -> str:
    return " 或 ".join(_TYPE_NAMES.get(t.strip(), t.strip()) for t in spec.split("|"))


_SHAPES: Final[tuple[tuple[re.Pattern[str], Any], ...]] = (
    (
        re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$"),
        lambda m: f"应为{_type_zh(m['want'])}，实际为{_type_zh(m['got'])}",
    ),
    (
        re.compile(r"^Object missing required field `(?P<name>[^`]+)`$"),
        lambda m: f"缺少必填字段 {m['name']}",
    ),
    (
        re.compile(r"^Expected `(?P<want>[^`]+)` of length (?P<op>[<>]=?) (?P<n>\d+)$"),
        lambda m: f"应为长度{_OPS[m['op']]} {m['n']} 的{_type_zh(m['want'])}",
    ),
    (
        re.compile(r"^Expected `(?P<want>[^`]+)` (?P<op>[<>]=?) (?P<n>[-\d.e+]+)$"),
        lambda m: f"应为{_OPS[m['op']]} {m['n']} 的{_type_zh(m['want'])}",
    ),
    (
        re.compile(r"^Expected `(?P<want>[^`]+)` that is a multiple of (?P<n>[-\d.e+]+)$"),
        lambda m: f"应为 {m['n']} 的整数倍",
    ),
    (
        re.compile(r"^Expected `(?P<want>[^`]+)` matching regex (?P<re>.+)$"),
        lambda m: f"格式不符合要求（应匹配 {m['re']}）",
    ),
    (re.compile(r"^Invalid enum value (?P<v>.+)$"), lambda m: f"取值 {m['v']} 不在允许范围内"),
    (
        re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$"),
        lambda m: f"包含未知字段 {m['name']}",
    ),
    (
        re.compile(r"^Expected `datetime` with a timezone component$"),
        lambda _m: "应为带时区的日期时间",
    ),
    (
        re.compile(r"^Expected `(?P<want>[^`]+)` without a timezone component$"),
        lambda m: f"应为不带时区的{_type_zh(m['want'])}",
    ),
    (
        re.compile(r"^Invalid RFC3339 encoded datetime$"),
        lambda _m: "日期时间格式无效（应为 RFC 3339）",
    ),
    (re.compile(r"^Invalid (?P<what>[A-Za-z0-9 ]+)$"), lambda m: f"{m['what']} 格式无效"),
)


def validation_message(message: str, lang: Lang = DEFAULT_LANG) -> str:
    """msgspec's field message (``Expected `int`, got `str```) in ``lang``; unknown shapes
    are kept as they are."""
    if lang == "en":
        return message
    text = message.strip()
    for pattern, write in _SHAPES:
        match = pattern.match(text)
        if match is not None:
            return str(write(match))
    return text


def validation_detail(code: str, message: str, lang: Lang = DEFAULT_LANG) -> str:
    """A whole msgspec error (``Expected `str`, got `int` - at `$.ops[1].note```) in
    ``lang``: for Chinese the catalogue's text for ``code``, the field path and the message."""
    if lang == "en":
        return message
    text, _, where = message.partition(" - at `$")
    path = where.rstrip("`").lstrip(".")
    head = render(code, lang)
    shown = validation_message(text, lang)
    return f"{head}：{path}：{shown}" if path else f"{head}：{shown}"
