"""The one error body of the API: every refusal as JSON with a 4xx status, never a 500 for bad input."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from ground.errors import Unauthorized, ZongzhiError

from . import uploads
from .i18n import language, translate_fields

log = logging.getLogger(__name__)

_HTTP = {
    400: ("bad_request", "请求格式有误", "the request is malformed"),
    401: ("unauthorized", "需要有效的令牌", "a valid token is required"),
    403: ("forbidden", "当前角色无权执行此操作", "your role may not do this"),
    404: ("not_found", "找不到该资源", "not found"),
    405: ("method_not_allowed", "不支持该请求方法", "method not allowed"),
    413: ("too_large", "请求内容过大", "the request is too large"),
    415: ("unsupported_media_type", "请求内容须为 JSON", "the body must be JSON"),
    429: ("too_many_requests", "请求过于频繁，请稍后再试", "too many requests, try again later"),
}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    """Build the API's error body."""
    return {"error": code, "message": message, "fields": fields or {}}


def init_app(app: Flask) -> None:
    """Answer every error under the API as the JSON error body."""

    @app.errorhandler(ZongzhiError)
    def _domain(err: ZongzhiError):
        lang = language()
        fields = translate_fields(err.fields, lang)
        if wants_json():
            return jsonify(error_body(err.code, err.text(lang), fields)), err.status
        if isinstance(err, Unauthorized):
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return render_template("error.html", status=err.status, message=err.text(lang),
                               fields=fields), err.status

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if err.code == 413 and (refused := uploads.refusal()) is not None:
            return _domain(refused)  # a streamed upload past its view's limit: say which and how much
        code, zh, en = _HTTP.get(err.code, ("error", err.name, err.name))
        message = en if language() == "en" else zh
        if not wants_json():
            if err.code == 400 and getattr(err, "description", ""):
                message = err.description  # Flask-WTF's CSRF refusal says what went wrong
            return render_template("error.html", status=err.code, message=message), err.code
        return jsonify(error_body(code, message)), err.code

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        message = ("服务器内部错误，请稍后再试" if language() != "en"
                   else "internal error, please try again later")
        if not wants_json():
            return render_template("error.html", status=500, message=message), 500
        return jsonify(error_body("internal_error", message)), 500


def wants_json() -> bool:
    """Say whether this request is the API's (JSON errors) rather than a screen's (HTML pages)."""
    return request.path.startswith("/api/")
