"""The error catalogue: every code an answer can carry, defined once, with its HTTP status,
its title and its message template in Simplified Chinese and English.

Each entry is a module constant named after its code, and raise sites name it::

    from infra import error_codes as codes

    raise InvalidPatrolInputError("ended_at is before started_at", code=codes.INVALID_TIME)

A constant is the code's string itself (``codes.INVALID_TIME == "invalid_time"``), so an
exception, a sync receipt or a stored job row carries exactly what it carried before; the
entry behind it is ``CATALOGUE[codes.INVALID_TIME]``. Codes never change: phones depend on
them.

``status`` is the HTTP status of a problem answer with the code. ``api.problems`` answers a
domain error with the status of its branch of :mod:`infra.errors` (404 for a
``NotFoundError`` ...), and ``tests/test_messages.py`` checks that every raise site's branch
gives the status listed here. ``None`` marks a code no problem answer carries: the per-item
codes inside a 200 answer (a rejected track point, a sync receipt, a layer import's repairs,
rejections, warnings and job errors) and the base class's ``domain_error``. One code is
answered with two statuses (``also``): ``unsupported_media_type`` is 415 for a body the
operation does not read and 422 for an upload declaring a type evidence does not take.

The message template is in ``str.format`` style with named fields; a template with fields
has a title without them, used when a caller lacks a value (an old stored row, an error
raised without that fact). A template without fields is its own title. Parameters named in
``labels`` are codes themselves (a roster role, a check status), rendered from
:data:`infra.messages.LABELS`. :mod:`infra.messages` renders the catalogue;
:func:`markdown_table` writes the table of README.md (``patrol errors``), and the OpenAPI
document lists it as ``components.x-error-catalogue``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

__all__ = ["CATALOGUE", "ErrorCode", "markdown_table"]  # and one constant per code


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One code of the catalogue.

    ``status`` is the HTTP status of a problem answer with the code (``None``: no problem
    answer carries it) and ``also`` any further one; ``zh``/``en`` are the message templates
    and ``zh_title``/``en_title`` the message without fields (the template itself when it
    has none); ``labels`` names the fields whose values are codes of a vocabulary of
    :data:`infra.messages.LABELS`.
    """

    code: str
    status: int | None
    zh: str
    en: str
    zh_title: str
    en_title: str
    also: tuple[int, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def statuses(self) -> tuple[int, ...]:
        """Every status a problem answer with this code has (none for a per-item code)."""
        return (*((self.status,) if self.status is not None else ()), *self.also)


_CATALOGUE: dict[str, ErrorCode] = {}


def _e(  # noqa: PLR0917 - a row of the catalogue reads best positionally
    code: str,
    status: int | None,
    zh: str,
    en: str,
    zh_title: str = "",
    en_title: str = "",
    *,
    also: tuple[int, ...] = (),
    **labels: str,
) -> str:
    """Enter ``code`` in the catalogue and give it back, for its constant."""
    if code in _CATALOGUE:
        raise ValueError(f"error code {code} is defined twice")
    _CATALOGUE[code] = ErrorCode(
        code, status, zh, en, zh_title or zh, en_title or en, also, MappingProxyType(labels)
    )
    return code


# generic families (infra.errors and the HTTP layer)
DOMAIN_ERROR: Final = _e("domain_error", None, "请求未能完成", "the request could not be completed")
NOT_FOUND: Final = _e("not_found", 404, "未找到所请求的资源", "not found")
CONFLICT: Final = _e("conflict", 409, "当前状态不允许此操作", "the current state forbids this")
INVALID_INPUT: Final = _e("invalid_input", 422, "输入不符合要求", "the input is not acceptable")
PERMISSION_DENIED: Final = _e("permission_denied", 403, "无权执行此操作", "you may not do this")
NOT_AUTHENTICATED: Final = _e(
    "not_authenticated",
    401,
    "请先登录：请求须带 Authorization: Bearer <令牌>",
    "send Authorization: Bearer <token>",
)
RATE_LIMITED: Final = _e(
    "rate_limited", 429, "请求过于频繁，请稍后再试", "too many attempts; try again later"
)
UNAVAILABLE: Final = _e(
    "unavailable", 503, "服务暂时不可用，请稍后再试", "a service is unavailable; try again shortly"
)
BAD_REQUEST: Final = _e("bad_request", 400, "请求格式有误", "the request is malformed")
METHOD_NOT_ALLOWED: Final = _e(
    "method_not_allowed", 405, "该地址不支持此请求方法", "this method is not allowed here"
)
NOT_ACCEPTABLE: Final = _e(
    "not_acceptable", 406, "无法按所要求的格式应答", "no acceptable representation"
)
BODY_TOO_LARGE: Final = _e(
    "body_too_large",
    413,
    "请求体超过服务器允许的大小",
    "the body is larger than the server accepts",
)
UNSUPPORTED_MEDIA_TYPE: Final = _e(
    "unsupported_media_type",
    415,
    "不支持此内容类型",
    "this content type is not accepted",
    also=(422,),
)
INTERNAL_ERROR: Final = _e(
    "internal_error",
    500,
    "服务器发生意外错误，已连同请求编号记入日志",
    "an unexpected error occurred; it has been logged with the request id",
)
VALIDATION_ERROR: Final = _e(
    "validation_error", 400, "请求内容不符合接口定义", "the request breaks the schema"
)
MALFORMED_BODY: Final = _e("malformed_body", 400, "无法解析请求体", "could not decode the body")
INVALID_CHARACTER: Final = _e(
    "invalid_character", 422, "文本不得包含 NUL 字符", "text may not contain the NUL character"
)
UNKNOWN_PARAMETER: Final = _e(
    "unknown_parameter",
    400,
    "此操作不接受参数“{name}”（查询参数或表单字段）",
    "this operation takes no parameter '{name}' (query parameter or form field)",
    "此操作不接受该参数",
    "this operation does not take that parameter",
)
NUMBER_OUT_OF_RANGE: Final = _e(
    "number_out_of_range",
    422,
    "数值超出范围：整数须在 64 位有符号整数以内，且须为有限数",
    "numbers must be finite and integers must fit in a signed 64-bit number",
)
NESTING_TOO_DEEP: Final = _e(
    "nesting_too_deep",
    422,
    "数组和对象最多嵌套 {limit} 层",
    "arrays and objects may nest at most {limit} levels",
    "数组和对象嵌套过深",
    "arrays and objects nest too deeply",
)
DATABASE_UNAVAILABLE: Final = _e(
    "database_unavailable", 503, "数据库暂时不可用，请稍后再试", "the database is not available"
)
STORAGE_UNAVAILABLE: Final = _e(
    "storage_unavailable",
    503,
    "文件存储暂时不可用，请稍后再试",
    "the object store is not available",
)
# accounts and access
ACCOUNT_DISABLED: Final = _e("account_disabled", 401, "账号已停用", "account is disabled")
INVALID_CREDENTIALS: Final = _e(
    "invalid_credentials", 401, "用户名或密码错误", "wrong username or password"
)
INVALID_REFRESH_TOKEN: Final = _e(
    "invalid_refresh_token",
    401,
    "刷新令牌无效、已过期或已被使用",
    "refresh token is invalid, expired or already used",
)
LOGIN_BUSY: Final = _e(
    "login_busy", 503, "同时登录的人过多，请稍后再试", "too many logins at once; try again shortly"
)
LOGIN_LOCKED: Final = _e(
    "login_locked",
    429,
    "登录失败次数过多，请 {retry_after_s} 秒后再试",
    "too many failed logins; try again in {retry_after_s} s",
    "登录失败次数过多，请稍后再试",
    "too many failed logins; try again later",
)
PASSWORD_TOO_SHORT: Final = _e("password_too_short", 422, "密码过短", "the password is too short")
USERNAME_TAKEN: Final = _e("username_taken", 409, "用户名已被占用", "username is taken")
USER_NOT_FOUND: Final = _e("user_not_found", 404, "未找到该用户", "user not found")
DEVICE_NOT_FOUND: Final = _e("device_not_found", 404, "未找到该设备令牌", "device token not found")
SELF_LOCKOUT: Final = _e(
    "self_lockout",
    409,
    "管理员不能停用自己或降低自己的角色",
    "admins cannot disable or demote themselves",
)
ROLE_NOT_ALLOWED: Final = _e(
    "role_not_allowed", 403, "您的角色无权执行此操作", "your role may not do this"
)
NOT_PLATFORM_ADMIN: Final = _e(
    "not_platform_admin",
    403,
    "只有平台管理员（PATROL_PLATFORM_ADMINS 中的管理员）可以创建或列出县",
    "only platform admins (PATROL_PLATFORM_ADMINS) may create or list counties",
)
# organisation: counties, townships, villages
COUNTY_NOT_FOUND: Final = _e("county_not_found", 404, "未找到该县", "county not found")
TOWNSHIP_NOT_FOUND: Final = _e("township_not_found", 404, "未找到该乡镇", "township not found")
VILLAGE_NOT_FOUND: Final = _e("village_not_found", 404, "未找到该村", "village not found")
DUPLICATE_COUNTY: Final = _e(
    "duplicate_county", 409, "该行政区划代码已有县", "a county with this admin code exists"
)
INVALID_ADMIN_CODE: Final = _e(
    "invalid_admin_code",
    422,
    "行政区划代码须为 6、9 或 12 位数字",
    "the admin code must be 6, 9 or 12 digits",
)
INVALID_PROVINCE_CODE: Final = _e(
    "invalid_province_code", 422, "省级代码须为 2 位数字", "the province code must be 2 digits"
)
INVALID_NAME: Final = _e(
    "invalid_name", 422, "名称须为 1 到 100 个字符", "the name must be 1 to 100 characters"
)
INVALID_BOUNDARY: Final = _e(
    "invalid_boundary", 422, "边界文件无效", "the boundary file is not usable"
)
CODE_TAKEN: Final = _e("code_taken", 409, "该编码已被使用", "this code is already used")
UNKNOWN_TOWNSHIP: Final = _e(
    "unknown_township", 422, "本县没有该乡镇", "unknown township for this county"
)
UNKNOWN_VILLAGE: Final = _e(
    "unknown_village", 422, "本县没有该村", "unknown village for this county"
)
UNKNOWN_USER: Final = _e("unknown_user", 422, "本县没有这些用户", "unknown users for this county")
# contract areas, targets, plans
AREA_NOT_FOUND: Final = _e("area_not_found", 404, "未找到该承包区域", "contract area not found")
AREA_INACTIVE: Final = _e(
    "area_inactive", 422, "该承包区域已停用", "this contract area is no longer active"
)
TARGET_NOT_FOUND: Final = _e("target_not_found", 404, "未找到该巡查目标", "target not found")
TARGET_INACTIVE: Final = _e(
    "target_inactive", 422, "该巡查目标已撤销", "this target is no longer active"
)
RULE_NOT_FOUND: Final = _e("rule_not_found", 404, "未找到该规则", "rule not found")
DUPLICATE_CODE: Final = _e(
    "duplicate_code", 409, "已有相同编码的区域", "an area with this code exists"
)
INVALID_GRADE: Final = _e("invalid_grade", 422, "等级须为 1、2 或 3", "grade must be 1, 2 or 3")
INVALID_RADIUS: Final = _e(
    "invalid_radius",
    422,
    "到访半径须大于 0 且不超过 10000 米",
    "visit radius must be in (0, 10000] m",
)
INVALID_TARGET_KIND: Final = _e(
    "invalid_target_kind", 422, "巡查目标类型无效", "unknown target kind"
)
UNKNOWN_TARGET: Final = _e(
    "unknown_target",
    422,
    "目标须为本区域的有效巡查目标",
    "targets must be active targets of the area",
)
NOT_AREA_MEMBER: Final = _e(
    "not_area_member",
    403,
    "您不是该承包区域的负责人或成员",
    "you are not the leader or a member of this contract area",
)
# patrols, sign-ins, findings, tracks
PATROL_NOT_FOUND: Final = _e("patrol_not_found", 404, "未找到该巡查记录", "patrol not found")
NOT_PATROL_OWNER: Final = _e(
    "not_patrol_owner", 403, "该巡查属于他人", "this patrol belongs to someone else"
)
NOT_FINDING_EDITOR: Final = _e(
    "not_finding_editor",
    403,
    "只有该巡查的队员和队长可以修改此发现",
    "only the patrol's crew and captains may edit this finding",
)
PATROL_ALREADY_ENDED: Final = _e(
    "patrol_already_ended", 409, "该巡查已结束", "this patrol has already ended"
)
ID_REUSED: Final = _e("id_reused", 409, "该编号已被其他记录使用", "this id is already used")
INVALID_PATROL_INPUT: Final = _e(
    "invalid_patrol_input", 422, "巡查数据不符合要求", "the patrol data is not acceptable"
)
INVALID_TIME: Final = _e("invalid_time", 422, "时间无效", "the time is not valid")
IMPLAUSIBLE_TIME: Final = _e(
    "implausible_time",
    422,
    "时间过早，请检查手机时钟",
    "the time is too long ago; check the phone's clock",
)
INVALID_COORDINATES: Final = _e(
    "invalid_coordinates", 422, "坐标无效或超出范围", "coordinates missing or out of range"
)
INVALID_ACCURACY: Final = _e(
    "invalid_accuracy",
    422,
    "定位精度须在 0 到 10000 米之间",
    "accuracy must be between 0 and 10000 m",
)
INVALID_STATUS: Final = _e("invalid_status", 422, "状态值无效", "unknown status")
INVALID_MONTH: Final = _e(
    "invalid_month", 422, "月份格式应如 2026-11", "month must look like 2026-11"
)
INVALID_PERIOD: Final = _e(
    "invalid_period", 422, "导出时段须为 1 到 31 天", "the export covers 1 to 31 days"
)
MANUAL_SIGN_IN_NEEDS_REASON: Final = _e(
    "manual_sign_in_needs_reason",
    422,
    "手动签到须填写原因代码和所在村",
    "a manual sign-in needs a reason code and a village",
)
TOO_MANY_POINTS: Final = _e(
    "too_many_points",
    422,
    "每批最多 {limit} 个点",
    "at most {limit} points per batch",
    "一批中的点数过多",
    "too many points in one batch",
)
FUTURE_TIME: Final = _e(
    "future_time", None, "时间比当前时间晚 5 分钟以上", "time is more than 5 minutes in the future"
)
BEFORE_START: Final = _e(
    "before_start", None, "时间早于巡查开始时间", "time is before the patrol started"
)
AFTER_END: Final = _e("after_end", None, "时间晚于巡查结束时间", "time is after the patrol ended")
PATROL_ENDED: Final = _e(
    "patrol_ended",
    None,
    "巡查已结束，轨迹不再接收新的点",
    "the patrol has ended; its track takes no more points",
)
OUTSIDE_COUNTY: Final = _e(
    "outside_county", 422, "位置在本县范围之外", "the position is outside the county"
)
POINTS_REJECTED: Final = _e(
    "points_rejected", None, "所有轨迹点均被拒收", "every point was rejected"
)
# five-to-one duty and alerts
SITE_NOT_FOUND: Final = _e("site_not_found", 404, "该点位没有包保名单", "no roster for this site")
NOT_ROSTER_MEMBER: Final = _e(
    "not_roster_member",
    403,
    "您不在该点位的五包一名单中",
    "you are not on this site's five-to-one roster",
)
ALERT_NOT_FOUND: Final = _e("alert_not_found", 404, "未找到该预警", "alert not found")
# mine sites and the roster register
MINE_SITE_NOT_FOUND: Final = _e("mine_site_not_found", 404, "未找到该矿点", "mine site not found")
DUPLICATE_SITE_CODE: Final = _e(
    "duplicate_site_code", 409, "该矿点编号已登记", "site code already registered"
)
INVALID_ROSTER: Final = _e(
    "invalid_roster", 422, "包保名单数据不符合要求", "the roster entry is not acceptable"
)
# geofence: layers, imports, checks
LAYER_NOT_FOUND: Final = _e(
    "layer_not_found",
    404,
    "没有图层 {layer}",
    "unknown layer {layer}",
    "没有该图层",
    "unknown layer",
)
LAYER_VERSION_NOT_FOUND: Final = _e(
    "layer_version_not_found", 404, "未找到该图层版本", "layer version not found"
)
IMPORT_JOB_NOT_FOUND: Final = _e(
    "import_job_not_found", 404, "未找到该导入任务", "import job not found"
)
IMPORT_ABANDONED: Final = _e(
    "import_abandoned",
    None,
    "执行导入的服务器在完成前停止，请重新上传文件",
    "the server running the import stopped before it finished; upload the file again",
)
IMPORT_INTERRUPTED: Final = _e(
    "import_interrupted",
    None,
    "导入期间服务器关闭，请重新上传文件",
    "the server shut down during the import; upload the file again",
)
UNSUPPORTED_FILE: Final = _e(
    "unsupported_file",
    422,
    "无法读取该文件：请上传 GeoJSON、Shapefile（zip）、GeoPackage 或 KML",
    "the file cannot be read as a supported layer format",
)
NO_FEATURES: Final = _e(
    "no_features",
    422,
    "文件中没有带几何图形的要素，未导入任何内容",
    "the file has no feature with a geometry",
)
UNKNOWN_SOURCE_LAYER: Final = _e(
    "unknown_source_layer", 422, "文件中没有指定的图层", "the file has no such layer"
)
UNKNOWN_ENCODING: Final = _e("unknown_encoding", 422, "无法识别的字符编码", "unknown text encoding")
INVALID_FIELD_MAP: Final = _e(
    "invalid_field_map", 422, "字段对应关系无效", "the field map is not valid"
)
UNKNOWN_LAYER_KIND: Final = _e("unknown_layer_kind", 422, "图层类型无效", "unknown layer kind")
UNKNOWN_CRS: Final = _e(
    "unknown_crs", 422, "坐标系无法识别或不受支持", "unknown or unsupported coordinate system"
)
INVALID_GEOMETRY: Final = _e(
    "invalid_geometry",
    422,
    "几何图形无效：{reason}",
    "invalid geometry: {reason}",
    "几何图形无效",
    "the geometry is not valid",
    reason="geometry_problem",
)
TOO_MANY_VERTICES: Final = _e(
    "too_many_vertices",
    422,
    "一个几何图形最多 {limit} 个坐标点",
    "a geometry may have at most {limit} positions",
    "几何图形的坐标点过多",
    "the geometry has too many positions",
)
CRS_OFFSET_SUSPECTED: Final = _e(
    "crs_offset_suspected",
    None,
    "坐标疑似为偏移坐标系而非 WGS84/CGCS2000，如确是，请指定 crs={suggested_crs} 重新导入",
    "the coordinates look offset (not WGS84/CGCS2000); if so, import again with "
    "crs={suggested_crs}",
    "坐标疑似为偏移坐标系而非 WGS84/CGCS2000",
    "the coordinates look offset (not WGS84/CGCS2000)",
)
GEOMETRY_REJECTED: Final = _e(
    "geometry_rejected",
    None,
    "几何图形无效：{why}",
    "invalid geometry: {why}",
    "几何图形无效",
    "invalid geometry",
    why="geometry_problem",
)
FEATURE_OUTSIDE_COUNTY: Final = _e(
    "feature_outside_county",
    None,
    "位于本县范围之外（坐标系是否有误？）",
    "lies outside the county (wrong coordinate system?)",
)
INVALID_ATTRIBUTES: Final = _e(
    "invalid_attributes",
    None,
    "属性值无效：{problem}",
    "attributes: {problem}",
    "属性值无效",
    "bad attributes",
)
DEGENERATE_POLYGON: Final = _e(
    "degenerate_polygon",
    None,
    "面积或宽度过小的退化多边形：面积 {area_m2} 平方米，平均宽度 {width_m} 米",
    "degenerate polygon: area {area_m2} m², mean width {width_m} m",
    "面积或宽度过小的退化多边形",
    "degenerate polygon",
)
DROPPED_Z: Final = _e("dropped_z", None, "已去除 Z 坐标", "dropped Z coordinates")
GEOMETRY_REPAIRED: Final = _e(
    "geometry_repaired",
    None,
    "已修复几何错误：{why}",
    "repaired: {why}",
    "已修复几何错误",
    "repaired the geometry",
)
# sync
BATCH_TOO_LARGE: Final = _e(
    "batch_too_large",
    422,
    "每次推送最多 {limit} 项操作，请分批",
    "at most {limit} operations per push; split the batch",
    "一次推送的操作过多，请分批",
    "too many operations in one push; split the batch",
)
CURSOR_MALFORMED: Final = _e(
    "cursor_malformed", 422, "同步游标格式无效", "not a cursor issued by this server"
)
CURSOR_INVALID: Final = _e(
    "cursor_invalid", 422, "同步游标签名校验失败", "cursor signature does not verify"
)
CURSOR_NOT_YOURS: Final = _e(
    "cursor_not_yours", 403, "该同步游标属于其他用户", "this cursor was issued to another user"
)
CURSOR_STALE: Final = _e(
    "cursor_stale",
    409,
    "同步游标已失效，请不带游标重新拉取并替换本地数据",
    "this cursor is stale; pull without a cursor and replace local data",
)
SYNC_BUSY: Final = _e(
    "sync_busy",
    409,
    "该数据流正在被另一次拉取读取，请稍后重试",
    "another pull of this stream is running",
)
PAGE_CURSOR_INVALID: Final = _e(
    "page_cursor_invalid", 422, "分页参数无效", "not a page's next value"
)
TILE_NOT_FOUND: Final = _e("tile_not_found", 404, "瓦片坐标无效", "not a valid tile coordinate")
TILE_TOO_LARGE: Final = _e(
    "tile_too_large",
    422,
    "第 {zoom} 级瓦片过大（{size} 字节，上限 {limit} 字节），请放大后再看",
    "the tile at zoom {zoom} is too large ({size} bytes, limit {limit}); zoom in",
    "瓦片过大，请放大后再看",
    "the tile is too large; zoom in",
)
UNKNOWN_OP_TYPE: Final = _e("unknown_op_type", None, "未知的操作类型", "unknown operation type")
INVALID_OP: Final = _e(
    "invalid_op", None, "操作内容不符合接口定义", "the operation breaks the schema"
)
OP_ID_REUSED: Final = _e(
    "op_id_reused", None, "该操作编号已用于另一项操作", "this op id was used for another operation"
)
OP_NOT_SUPPORTED: Final = _e(
    "op_not_supported",
    None,
    "本服务器不支持此操作",
    "this operation is not available on this server",
)
VERSION_CONFLICT: Final = _e(
    "version_conflict",
    None,
    "服务器上的记录已在您之后被修改",
    "the record was changed on the server since your copy",
)
# evidence: uploads and custody
UPLOAD_NOT_FOUND: Final = _e("upload_not_found", 404, "未找到该上传", "upload not found")
EVIDENCE_NOT_FOUND: Final = _e("evidence_not_found", 404, "未找到该证据", "evidence not found")
DERIVATIVE_NOT_FOUND: Final = _e(
    "derivative_not_found", 404, "该证据的派生文件尚未生成或不存在", "derivative not found"
)
NOT_UPLOAD_OWNER: Final = _e(
    "not_upload_owner", 403, "该上传属于他人", "this upload belongs to someone else"
)
NOT_EVIDENCE_EDITOR: Final = _e(
    "not_evidence_editor", 403, "您无权修改该证据的说明", "you may not edit this evidence"
)
EVIDENCE_ID_CONFLICT: Final = _e(
    "evidence_id_conflict",
    409,
    "该证据编号已用于另一份声明",
    "this evidence id names another declaration",
)
UPLOAD_ABORTED: Final = _e("upload_aborted", 409, "该上传已被放弃", "the upload was aborted")
UPLOAD_ALREADY_ACCEPTED: Final = _e(
    "upload_already_accepted", 409, "该上传已被接收为证据", "the upload was already accepted"
)
UPLOAD_INCOMPLETE: Final = _e(
    "upload_incomplete", 409, "文件尚未全部上传", "not all parts have arrived"
)
INVALID_UPLOAD: Final = _e(
    "invalid_upload", 422, "上传声明不符合要求", "the upload declaration is not acceptable"
)
INVALID_ID: Final = _e("invalid_id", 422, "编号无效", "the id is not valid")
INVALID_SHA256: Final = _e("invalid_sha256", 422, "SHA-256 值无效", "the SHA-256 is not valid")
INVALID_MD5: Final = _e("invalid_md5", 422, "MD5 值无效", "the MD5 is not valid")
INVALID_SIZE: Final = _e("invalid_size", 422, "文件大小无效", "the size is not valid")
INVALID_PART_SIZE: Final = _e(
    "invalid_part_size", 422, "分片大小无效", "the part size is not valid"
)
INVALID_PART_MD5S: Final = _e(
    "invalid_part_md5s", 422, "分片 MD5 列表无效", "the part MD5 list is not valid"
)
INVALID_HEADING: Final = _e("invalid_heading", 422, "拍摄方向无效", "the heading is not valid")
INVALID_VIEW_TYPE: Final = _e("invalid_view_type", 422, "视角类型无效", "unknown view type")
INVALID_TEXT: Final = _e("invalid_text", 422, "文字说明不符合要求", "the text is not acceptable")
INVALID_CURSOR: Final = _e("invalid_cursor", 422, "分页游标无效", "the cursor is not valid")
UPLOAD_TOO_LARGE: Final = _e(
    "upload_too_large",
    422,
    "文件过大：上限 {limit} 字节",
    "the file is too large: at most {limit} bytes",
    "文件过大",
    "the file is too large",
)
FILE_EMPTY: Final = _e("file_empty", 422, "文件为空", "the file is empty")
EVIDENCE_HASH_MISMATCH: Final = _e(
    "evidence_hash_mismatch",
    422,
    "收到的文件与声明的 SHA-256 不一致",
    "the stored bytes do not match the declared SHA-256",
)
EVIDENCE_SIZE_MISMATCH: Final = _e(
    "evidence_size_mismatch",
    422,
    "收到的文件大小（{stored} 字节）与声明的大小（{declared} 字节）不一致",
    "the stored size ({stored} bytes) differs from the declared size ({declared} bytes)",
    "收到的文件大小与声明不一致",
    "the stored size differs from the declaration",
)
EVIDENCE_TYPE_MISMATCH: Final = _e(
    "evidence_type_mismatch",
    422,
    "文件内容（{detected}）与声明的类型（{declared}）不一致",
    "the bytes ({detected}) are not the declared type ({declared})",
    "文件内容与声明的类型不一致",
    "the bytes are not the declared type",
)
FILE_CORRUPT: Final = _e(
    "file_corrupt", 422, "文件已损坏或不完整", "the file is truncated or corrupt"
)
IMAGE_TOO_LARGE: Final = _e(
    "image_too_large",
    422,
    "图像像素过多（{width}×{height}，上限 {max_pixels} 像素）",
    "the image has too many pixels ({width}×{height}, at most {max_pixels})",
    "图像像素过多",
    "the image has too many pixels",
)
REFERENCE_NOT_FOUND: Final = _e(
    "reference_not_found",
    422,
    "关联的案件、巡查、发现或矿点不存在或无权关联",
    "the referenced record does not exist or may not be used",
)
MULTIPART_UPLOAD_NOT_FOUND: Final = _e(
    "multipart_upload_not_found", 404, "未找到该分片上传", "multipart upload not found"
)
OBJECT_NOT_FOUND: Final = _e("object_not_found", 404, "存储中没有该文件", "object not found")
OBJECT_PROTECTED: Final = _e(
    "object_protected", 403, "该文件受保留策略保护，不能删除或覆盖", "the object is protected"
)
OBJECT_REJECTED: Final = _e(
    "object_rejected", 422, "文件存储拒收了该文件", "the object store refused the bytes"
)
# cases, screening, referrals, packages
CASE_NOT_FOUND: Final = _e("case_not_found", 404, "未找到该案件", "case not found")
FINDING_NOT_FOUND: Final = _e("finding_not_found", 404, "未找到该发现", "finding not found")
REFERRAL_NOT_FOUND: Final = _e("referral_not_found", 404, "未找到该移送记录", "referral not found")
CASE_SOURCE_NOT_FOUND: Final = _e(
    "case_source_not_found",
    404,
    "未找到案件来源（发现、变化图斑或举报线索）",
    "case source not found",
)
INVALID_STATUS_TRANSITION: Final = _e(
    "invalid_status_transition",
    409,
    "案件不能从“{status}”变为“{requested}”",
    "the case cannot move from {status} to {requested}",
    "当前案件状态不允许此变更",
    "the case status does not allow this change",
)
CASE_NOT_FLAGGED: Final = _e(
    "case_not_flagged", 409, "请先将案件标记为拟移送", "flag the case for referral first"
)
REFERRAL_ALREADY_OPEN: Final = _e(
    "referral_already_open", 409, "该案件已有进行中的移送", "the case has an open referral"
)
STEP_OUT_OF_ORDER: Final = _e(
    "step_out_of_order",
    409,
    "移送步骤顺序有误，下一步应为 {expected_step}",
    "step out of order; the next step is {expected_step}",
    "移送步骤顺序有误",
    "step out of order",
)
RECONSIDERATION_WINDOW_CLOSED: Final = _e(
    "reconsideration_window_closed",
    409,
    "复议须在不予立案后 3 日内提出",
    "reconsideration must be asked within 3 days of the refusal",
)
CASE_HAS_NO_EVIDENCE: Final = _e(
    "case_has_no_evidence", 409, "该案件没有可打包的证据", "the case has no evidence to package"
)
CASE_NO_TAKEN: Final = _e("case_no_taken", 409, "该案件编号已被使用", "this case number is taken")
CASE_CLOSED: Final = _e(
    "case_closed", 409, "案件已办结，只能查看", "the case is finished and read-only"
)
RULE_EXISTS: Final = _e(
    "rule_exists",
    409,
    "该编码的规则在此日期已有生效版本",
    "a rule with this code already starts on this date",
)
PACKAGE_SOURCE_MISMATCH: Final = _e(
    "package_source_mismatch",
    409,
    "存储的原始文件与接收时的哈希值不一致",
    "a stored original no longer matches its hash",
)
PACKAGE_TAMPERED: Final = _e(
    "package_tampered", 422, "证据包校验未通过", "the package failed verification"
)
PACKAGE_SIGNING_KEY_MISSING: Final = _e(
    "package_signing_key_missing",
    503,
    "未配置证据包签名密钥",
    "no package signing key is configured",
)
INVALID_CASE: Final = _e(
    "invalid_case", 422, "案件数据不符合要求", "the case data is not acceptable"
)
INVALID_VIOLATION_KIND: Final = _e(
    "invalid_violation_kind", 422, "违法类型无效", "unknown violation kind"
)
INVALID_SOURCE: Final = _e("invalid_source", 422, "案件来源无效", "the case source is not valid")
INVALID_PARTY: Final = _e("invalid_party", 422, "当事人信息无效", "the party is not valid")
INVALID_AMOUNT: Final = _e(
    "invalid_amount", 422, "金额或数量须为数字", "the amount must be a number"
)
INVALID_AREA: Final = _e("invalid_area", 422, "面积无效", "the area is not valid")
INVALID_PENALTY: Final = _e("invalid_penalty", 422, "处罚信息无效", "the penalty is not valid")
INVALID_TEAM: Final = _e("invalid_team", 422, "办案人员名单无效", "the team is not valid")
REASON_REQUIRED: Final = _e("reason_required", 422, "须填写理由", "a reason is required")
UNKNOWN_EVIDENCE: Final = _e(
    "unknown_evidence",
    422,
    "部分证据编号不是本县的证据",
    "some evidence ids are not evidence of this county",
)
TEAM_TOO_SMALL: Final = _e(
    "team_too_small",
    422,
    "移送须有至少两名执法人员",
    "a referral needs a team of at least two officers",
)
UNKNOWN_TEAM_MEMBER: Final = _e(
    "unknown_team_member",
    422,
    "成员须为本县在职人员",
    "team members must be active users of this county",
)
INVALID_STEP: Final = _e(
    "invalid_step", 422, "移送步骤数据不符合要求", "the step is not acceptable"
)
REPORT_REQUIRED: Final = _e(
    "report_required", 422, "移送须附调查报告", "the referral needs the team's report"
)
POLICE_UNIT_REQUIRED: Final = _e(
    "police_unit_required", 422, "须填写接收的公安机关", "name the police unit"
)
INVALID_MATERIAL: Final = _e("invalid_material", 422, "材料类型无效", "unknown material kind")
INVALID_FLAG_SUBJECT: Final = _e(
    "invalid_flag_subject", 422, "标记对象无效", "the flag subject is not valid"
)
MISSING_MATERIALS: Final = _e(
    "missing_materials", 422, "移送缺少必需的材料", "the transfer lacks required materials"
)
INVALID_RULE: Final = _e("invalid_rule", 422, "规则不符合要求", "the rule is not acceptable")
# petitions (信访)
PETITION_NOT_FOUND: Final = _e("petition_not_found", 404, "未找到该信访事项", "petition not found")
PETITION_STEP_OUT_OF_ORDER: Final = _e(
    "petition_step_out_of_order",
    409,
    "信访办理步骤顺序有误，下一步应为 {expected_step}",
    "petition step out of order; the next step is {expected_step}",
    "信访办理步骤顺序有误",
    "petition step out of order",
)
PETITION_ALREADY_EXTENDED: Final = _e(
    "petition_already_extended",
    409,
    "办理期限只能延长一次",
    "the handling period may be extended only once",
)
PETITION_REVIEWS_EXHAUSTED: Final = _e(
    "petition_reviews_exhausted",
    409,
    "复核意见为最终意见，不能再次申请复查或复核",
    "the re-review is final; no further review may be asked",
)
PETITION_EXTENSION_TOO_LONG: Final = _e(
    "petition_extension_too_long",
    422,
    "延长期限不得超过 {max_days} 日",
    "an extension may not exceed {max_days} days",
    "延长期限超过规定",
    "the extension is too long",
)
PETITION_REVIEW_WINDOW_CLOSED: Final = _e(
    "petition_review_window_closed",
    422,
    "须在收到意见之日起 {window_days} 日内提出（截止 {due_on}）",
    "the request must be made within {window_days} days of the answer (by {due_on})",
    "已超过申请期限",
    "the time to ask has passed",
)
INVALID_PETITION: Final = _e(
    "invalid_petition", 422, "信访事项数据不符合要求", "the petition data is not acceptable"
)


CATALOGUE: Final[Mapping[str, ErrorCode]] = MappingProxyType(_CATALOGUE)
"""Every code, in the order above (by family)."""

# tip-offs (12336 clues) and the working-day calendar
TIP_OFF_NOT_FOUND: Final = _e("tip_off_not_found", 404, "未找到该举报线索", "tip-off not found")
HOLIDAY_NOT_FOUND: Final = _e(
    "holiday_not_found", 404, "工作日历中没有这一天", "the calendar has no entry for this day"
)
INVALID_TIP_OFF: Final = _e(
    "invalid_tip_off", 422, "举报线索数据不符合要求", "the tip-off data is not acceptable"
)
REFUSAL_REASON_REQUIRED: Final = _e(
    "refusal_reason_required",
    422,
    "不予受理须注明排除理由（复议诉讼仲裁、干部违纪、权属补偿争议、国家秘密）",
    "refusing a tip-off needs one of the exclusion reasons",
)
TRANSFER_TO_REQUIRED: Final = _e(
    "transfer_to_required", 422, "转送须写明接收机关", "a transfer names the receiving authority"
)
TIP_OFF_WRONG_STATUS: Final = _e(
    "tip_off_wrong_status",
    409,
    "线索当前状态为{state}，不能进行此步骤",
    "the tip-off is {state}; this step is not possible now",
    "线索当前状态不能进行此步骤",
    "this step is not possible in the tip-off's status",
    state="tip_off_status",
)
TIP_OFF_NOT_LOCATED: Final = _e(
    "tip_off_not_located",
    422,
    "线索没有坐标点或范围，无法安排实地核查",
    "the tip-off has no point or polygon to verify on site",
)
NO_AREA_FOR_TIP_OFF: Final = _e(
    "no_area_for_tip_off",
    422,
    "没有包含线索位置的在用巡查片区，请指定片区",
    "no active patrol area contains the tip-off's location; name one",
)
INVALID_CALENDAR_DAY: Final = _e(
    "invalid_calendar_day",
    422,
    "节假日须为工作日（周一至周五），调休上班日须为周末",
    "a holiday falls on a weekday, a make-up working day on a weekend",
)
INVALID_FIGURES_PERIOD: Final = _e(
    "invalid_figures_period",
    422,
    "统计期间须为 period 加 date，或 from 加 to（from 不晚于 to）",
    "give period and date, or from and to (from not after to)",
)
REPORT_NOT_FOUND: Final = _e("report_not_found", 404, "报表不存在", "report not found")
REPORT_NOT_READY: Final = _e(
    "report_not_ready",
    409,
    "报表尚未生成（当前状态：{state}），请稍后再下载",
    "the report is not generated yet ({state}); download it later",
    "报表尚未生成，请稍后再下载",
    "the report is not generated yet; download it later",
    state="report_status",
)
INVALID_REPORT_PERIOD: Final = _e(
    "invalid_report_period",
    422,
    "报表期间不符：月报按月，季度报表和联席会议通报按季度，年度报表按年，且不能晚于今天",
    "the period does not fit the template (monthly: a month; quarterly tables and the joint "
    "meeting's bulletin: a quarter; annual tables: a year) or has not begun",
)

# the administrative penalty procedure (行政处罚程序, evidence.cases.procedure / penalties)
CASE_STEP_OUT_OF_ORDER: Final = _e(
    "case_step_out_of_order",
    409,
    "办案步骤顺序有误，下一步应为{expected_step}",
    "case step out of order; the next step is {expected_step}",
    "办案步骤顺序有误",
    "case step out of order",
    expected_step="case_step",
)
INVALID_CASE_STEP: Final = _e(
    "invalid_case_step", 422, "办案步骤内容不符合要求", "the case step is not acceptable"
)
HEARING_NOTICE_TOO_SHORT: Final = _e(
    "hearing_notice_too_short",
    422,
    "听证须在举行七日前通知当事人，最早可定于 {earliest}",
    "the party is notified at least 7 days before the hearing; the earliest date is {earliest}",
    "听证须在举行七日前通知当事人",
    "the party is notified at least 7 days before the hearing",
)
HEARING_REQUEST_LATE: Final = _e(
    "hearing_request_late",
    409,
    "当事人应在告知后五日内申请听证（期限 {due}）",
    "a hearing is requested within 5 days of the notice (due {due})",
    "当事人应在告知后五日内申请听证",
    "a hearing is requested within 5 days of the notice",
)
ENFORCEMENT_TOO_EARLY: Final = _e(
    "enforcement_too_early",
    409,
    "送达后十五日内不得申请法院强制执行，最早可于 {earliest} 申请",
    "court enforcement may be requested 15 days after service at the earliest ({earliest})",
    "送达后十五日内不得申请法院强制执行",
    "court enforcement may be requested 15 days after service at the earliest",
)
FINE_OUT_OF_RANGE: Final = _e(
    "fine_out_of_range",
    422,
    "罚款金额须在 {min} 元至 {max} 元之间",
    "the fine must be between {min} and {max} yuan",
    "罚款金额超出法定幅度",
    "the fine is outside the range the law allows",
)
FINE_BASIS_MISSING: Final = _e(
    "fine_basis_missing",
    422,
    "计算罚款幅度缺少依据：{basis}",
    "the fine's range needs a figure the case lacks: {basis}",
    "计算罚款幅度缺少依据",
    "the fine's range needs a figure the case lacks",
)
INVALID_ID_NUMBER: Final = _e(
    "invalid_id_number",
    422,
    "{field} 不是有效的身份证号码或统一社会信用代码（校验位不符）",
    "{field} is not a valid ID number or unified social credit code (check digit)",
    "证件号码无效（校验位不符）",
    "the ID number or credit code is not valid (check digit)",
)
PENALTY_REQUIRED: Final = _e(
    "penalty_required",
    409,
    "须先填写处罚内容（当事人、违法事实与依据、处罚种类）",
    "enter the penalty (parties, violations and basis, measures or fines) first",
)
PENALTY_DECIDED: Final = _e(
    "penalty_decided",
    409,
    "处罚决定已作出，处罚内容不能再修改",
    "the decision is made; the penalty can no longer change",
)
CLOSING_REQUIREMENTS_UNMET: Final = _e(
    "closing_requirements_unmet",
    409,
    "尚不能结案，缺少：{missing}",
    "the case cannot be closed yet; missing: {missing}",
    "尚不具备结案条件",
    "the case cannot be closed yet",
)

TABLE_START: Final = "<!-- error-codes:start -->"
TABLE_END: Final = "<!-- error-codes:end -->"


def _cell(text: str) -> str:
    """Text in a Markdown table cell: ``|`` and angle brackets escaped."""
    for char in ("\\", "|", "<", ">"):
        text = text.replace(char, "\\" + char)
    return text


def markdown_table() -> str:
    """The catalogue as README.md's table, between its two marker comments."""
    lines = [
        TABLE_START,
        "| Code | HTTP | 中文 | English |",
        "| --- | --- | --- | --- |",
    ]
    for entry in sorted(CATALOGUE.values(), key=lambda e: e.code):
        status = ", ".join(str(s) for s in entry.statuses) or "—"
        lines.append(f"| `{entry.code}` | {status} | {_cell(entry.zh)} | {_cell(entry.en)} |")
    lines.append("")
    lines.append(
        "HTTP —: no problem answer carries the code; it comes per item inside a 200 answer "
        "(a sync receipt, a rejected track point, a layer import's report), or it is "
        "`domain_error`, the base class's default, which every raise replaces. A `{name}` is "
        "filled in from the error's details when the message is shown."
    )
    lines.append(TABLE_END)
    return "\n".join(lines) + "\n"


# satellite enforcement campaigns (卫片执法)
SATELLITE_BATCH_NOT_FOUND: Final = _e(
    "satellite_batch_not_found", 404, "未找到该卫片批次", "satellite batch not found"
)
SATELLITE_TASK_NOT_FOUND: Final = _e(
    "satellite_task_not_found", 404, "未找到该卫片图斑核查任务", "satellite task not found"
)
INVALID_SATELLITE_BATCH: Final = _e(
    "invalid_satellite_batch",
    422,
    "卫片批次数据不符合要求",
    "the satellite batch is not acceptable",
)
SATELLITE_BATCH_EXISTS: Final = _e(
    "satellite_batch_exists",
    409,
    "本县已有同名的卫片批次",
    "the county already has a batch of this name",
)
INVALID_SATELLITE_RESULT: Final = _e(
    "invalid_satellite_result",
    422,
    "图斑核查结果不符合要求",
    "the satellite verification result is not acceptable",
)
SATELLITE_TASK_WRONG_STATUS: Final = _e(
    "satellite_task_wrong_status",
    409,
    "图斑当前状态为{state}，不能进行此步骤",
    "the polygon's task is {state}; this step is not possible now",
    "图斑当前状态不能进行此步骤",
    "this step is not possible in the task's status",
    state="satellite_task_status",
)
NO_AREA_FOR_SATELLITE_TASK: Final = _e(
    "no_area_for_satellite_task",
    422,
    "该巡查员不负责任何在用承包片区，请指定片区",
    "the inspector is on no active contract area; name one",
)
SATELLITE_CASE_EXISTS: Final = _e(
    "satellite_case_exists",
    409,
    "该图斑已转立案（案件编号 {case_no}）",
    "a case was already opened from this polygon ({case_no})",
    "该图斑已转立案",
    "a case was already opened from this polygon",
)
SATELLITE_TASK_SUBMITTED: Final = _e(
    "satellite_task_submitted",
    409,
    "图斑已上报，须由管理员注明理由退回后才能修改",
    "the polygon has been reported up; an admin must reopen it, with a reason, before it changes",
)

# the case file's documents (案卷文书, evidence.cases.documents / case_file)
CASE_DOCUMENT_NOT_FOUND: Final = _e(
    "case_document_not_found", 404, "未找到该案件文书", "case document not found"
)
INVALID_CASE_DOCUMENT: Final = _e(
    "invalid_case_document", 422, "文书生成请求不符合要求", "the document request is not acceptable"
)
DOCUMENT_NOT_READY: Final = _e(
    "document_not_ready",
    409,
    "尚不能生成该文书，缺少：{missing}",
    "the document cannot be generated yet; missing: {missing}",
    "尚不能生成该文书",
    "the document cannot be generated yet",
)
DOCUMENT_HAS_ID_NUMBERS: Final = _e(
    "document_has_id_numbers",
    403,
    "该文书载有当事人身份证件号码，联合执法人员不能下载",
    "the document carries a party's ID number; joint-team members may not download it",
)
INVALID_DOCUMENT_SCAN: Final = _e(
    "invalid_document_scan",
    422,
    "扫描件须为不超过 20 MiB 的 PDF、JPEG 或 PNG 文件",
    "a scan is a PDF, JPEG or PNG file of at most 20 MiB",
)
