"""/admin/users (admins): accounts, their roles, and new accounts."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.requests import Request

from certplatform.identity import service as identity
from certplatform.kernel.auth import ROLES, signed_in
from certplatform.kernel.errors import AppError
from certplatform.web import i18n
from certplatform.web.views.admin._shared import (
    Form,
    UoW,
    UserReader,
    UserWriter,
    admin_page,
    query,
)
from certplatform.web.views.admin.questions import page_number
from certplatform.web.views.common import redirect

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


async def users_page(
    request: Request,
    uow: UoW,
    *,
    role: str = "",
    page: int = 1,
    notice: str | None = None,
    error: str | None = None,
    new: dict[str, str] | None = None,
    new_error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    role = role if role in ROLES else ""
    users = await identity.list_users(
        uow, role=role or None, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    return admin_page(
        request,
        "users.html",
        {
            "users": users[:PAGE_SIZE],
            "more": len(users) > PAGE_SIZE,
            "role": role,
            "page": page,
            "roles": ROLES,
            "notice": notice,
            "error": error,
            "new": new or {"email": "", "display_name": "", "role": "learner"},
            "new_error": new_error,
            "page_url": lambda n: "/admin/users?" + query(role=role, page=n),
        },
        status,
    )


@router.get("/admin/users", response_class=HTMLResponse)
async def users(
    request: Request,
    uow: UoW,
    _: UserReader,
    role: str = "",
    page: str = "1",
    changed: str = "",
    created: str = "",
) -> HTMLResponse:
    notice = None
    if changed:
        user = await identity.get_user(uow, changed)
        notice = i18n.gettext("%(email)s is now %(role)s.") % {
            "email": user.email,
            "role": role_label(user.role),
        }
    elif created:
        user = await identity.get_user(uow, created)
        notice = i18n.gettext("Created the account %(email)s.") % {"email": user.email}
    return await users_page(request, uow, role=role, page=page_number(page), notice=notice)


def role_label(role: str) -> str:
    labels = {
        "learner": i18n.gettext("Learner"),
        "author": i18n.gettext("Author"),
        "admin": i18n.gettext("Admin"),
    }
    return labels.get(role, role)


@router.post("/admin/users", response_model=None)
async def create_user(request: Request, uow: UoW, _: UserWriter) -> Response:
    form = await Form.read(request)
    new = {
        "email": form.get("email"),
        "display_name": form.get("display_name"),
        "role": form.get("role") if form.get("role") in ROLES else "learner",
    }
    try:
        user = await identity.create_user(
            uow,
            new["email"],
            form.raw("password"),
            role=new["role"],
            display_name=new["display_name"],
        )
    except AppError as exc:
        await uow.rollback()
        return await users_page(
            request, uow, new=new, new_error=i18n.error_text(exc), status=exc.status_code
        )
    return redirect(f"/admin/users?created={user.id}")


@router.post("/admin/users/{user_id}/role", response_model=None)
async def change_role(request: Request, user_id: str, uow: UoW, principal: UserWriter) -> Response:
    form = await Form.read(request)
    try:
        user = await identity.set_role(uow, signed_in(principal), user_id, form.get("role"))
    except AppError as exc:
        await uow.rollback()
        return await users_page(
            request,
            uow,
            role=form.get("filter_role"),
            page=page_number(form.get("page", "1")),
            error=i18n.error_text(exc),
            status=exc.status_code,
        )
    return redirect(
        "/admin/users?"
        + query(changed=user.id, role=form.get("filter_role"), page=form.get("page"))
    )
