"""The one error body of the API: every refusal as JSON with a 4xx status, never a 500 for bad input."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from ground.errors import Unauthorized, ZongzhiError
from ground.i18n import _, render

from . import uploads
from .i18n import answer_language

log = logging.getLogger(__name__)

_HTTP = {
    400: ("bad_request", _("请求格式有误")),
    401: ("unauthorized", _("需要有效的令牌")),
    403: ("forbidden", _("当前角色无权执行此操作")),
    404: ("not_found", _("找不到该资源")),
    405: ("method_not_allowed", _("不支持该请求方法")),
    413: ("too_large", _("请求内容过大")),
    415: ("unsupported_media_type", _("请求内容须为 JSON")),
    429: ("too_many_requests", _("请求过于频繁，请稍后再试")),
}


def error_body(code: str, message, fields: dict | None = None) -> dict:
    """Build the API's error body, its message and the fields' reasons as text in the language
    the request asked for (web.i18n.answer_language: Accept-Language on the API)."""
    lang = answer_language()
    return {"error": code, "message": render(message, lang), "fields": render(fields or {}, lang)}


def init_app(app: Flask) -> None:
    """Answer every error under the API as the JSON error body."""

    @app.errorhandler(ZongzhiError)
    def _domain(err: ZongzhiError):
        if wants_json():
            return jsonify(error_body(err.code, err.message, err.fields)), err.status
        if isinstance(err, Unauthorized):
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return render_template("error.html", status=err.status, message=err.text(),
                               fields=err.field_texts()), err.status

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if err.code == 413 and (refused := uploads.refusal()) is not None and uploads.past_limit():
            return _domain(refused)  # a streamed upload past its view's limit: say which and how much
        code, message = _HTTP.get(err.code, ("error", err.name))
        if not wants_json():
            if err.code == 400 and getattr(err, "description", ""):
                message = err.description  # Flask-WTF's CSRF refusal says what went wrong
            return render_template("error.html", status=err.code, message=render(message)), err.code
        return jsonify(error_body(code, message)), err.code

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        message = _("服务器内部错误，请稍后再试")
        if not wants_json():
            return render_template("error.html", status=500, message=render(message)), 500
        return jsonify(error_body("internal_error", message)), 500


def wants_json() -> bool:
    """Say whether this request is the API's (JSON errors) rather than a screen's (HTML pages)."""
    return request.path.startswith("/api/")
