"""Scenario 5: Hypothesis-made input against every form and endpoint; the site never answers 500.

Runs in this process through Django's test ``Client`` (full middleware), so thousands of
examples fit in a minute; an exception in a view comes back as the 500 it would be.
"""

import string
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.faults.common import Result

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
FIELD = st.one_of(TEXT, st.emails(), st.sampled_from(["", " ", "a" * 5000, "x\r\nBcc: evil@example.com", "\x00"]))
SEGMENT = st.text(string.ascii_letters + string.digits + "-_=%.", min_size=1, max_size=60)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "a/b; c"]
)


def _form(names):
    """Each named field with probability 0.9, plus stray fields."""
    return st.fixed_dictionaries({}, optional={n: FIELD for n in names}).flatmap(
        lambda d: st.dictionaries(TEXT.filter(lambda k: k and "\x00" not in k), FIELD, max_size=3).map(
            lambda extra: {**extra, **d}
        )
    )


FORMS = {
    "/accounts/signup/": ["username", "email", "password1", "password2"],
    "/accounts/login/": ["username", "password"],
    "/accounts/password_reset/": ["email"],
    "/admin/login/": ["username", "password", "next"],
}


def run(examples):
    from django.contrib.auth.models import User
    from django.test import Client, override_settings

    result = Result("5. Hypothesis input against every form and endpoint")
    counts, failures = {}, {}
    User.objects.create_user("taken", "taken@example.com", "a-Long-pass-42")

    def check(name, response, detail):
        counts[name] = counts.get(name, 0) + 1
        if response.status_code >= 500:
            failures[name] = f"{name}: {response.status_code} for {detail!r}"  # the last one is the shrunk one
            raise AssertionError(failures[name])

    config = settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    client = Client(raise_request_exception=False)

    def form_case(path, fields):
        @config
        @given(_form(fields))
        def case(data):
            check(f"POST {path}", client.post(path, data), data)

        return case

    @config
    @given(st.sampled_from(list(FORMS)), st.binary(max_size=500), CONTENT_TYPES)
    def raw_bodies(path, body, content_type):
        check("POST raw bodies", client.post(path, body, content_type=content_type), (path, body, content_type))

    @config
    @given(
        st.sampled_from(["/", "/accounts/login/", "/accounts/signup/", "/admin/login/"]),
        st.dictionaries(TEXT, TEXT, max_size=4),
    )
    def query_strings(path, params):
        check("GET with query strings", client.get(path, params), (path, params))

    @config
    @given(SEGMENT, SEGMENT)
    def reset_links(uid, token):
        check("GET /accounts/reset/<uid>/<token>/", client.get(f"/accounts/reset/{uid}/{token}/"), (uid, token))

    @config
    @given(TEXT)
    def any_path(path):
        check("GET any path", client.get("/" + quote(path, safe="/")), path)

    @config
    @given(st.sampled_from(["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]), st.sampled_from(list(FORMS) + ["/"]))
    def other_methods(method, path):
        check("other methods", client.generic(method, path), (method, path))

    staff = Client(raise_request_exception=False)
    staff.force_login(User.objects.create_superuser("boss", "boss@example.com", "a-Long-pass-42"))
    outbox_admin = "/admin/notifications/message/"
    admin_params = st.sampled_from(["q", "status__exact", "o", "p", "created_at__gte", "e", "all"]) | TEXT

    @config
    @given(st.dictionaries(admin_params, TEXT, max_size=4))
    def admin_changelist(params):
        check(f"GET {outbox_admin} (staff)", staff.get(outbox_admin, params), params)

    @config
    @given(
        st.sampled_from(["retry", "cancel", "delete_selected", ""]) | TEXT,
        st.lists(TEXT | st.integers().map(str), max_size=5),
    )
    def admin_actions(action, selected):
        data = {"action": action, "_selected_action": selected, "index": "0"}
        check(f"POST {outbox_admin} actions (staff)", staff.post(outbox_admin, data), data)

    @config
    @given(TEXT | st.integers().map(str))
    def admin_change_page(pk):
        check(f"GET {outbox_admin}<id>/change/ (staff)", staff.get(f"{outbox_admin}{quote(pk, safe='')}/change/"), pk)

    # Issue 12: lookups on any field (the JSON recipients, the raw body) and unbounded page numbers.
    lookup_names = st.sampled_from(["recipients", "raw", "subject", "status", "created_at", "attempts"]).flatmap(
        lambda field: st.lists(
            st.sampled_from(["contains", "has_key", "0", "exact", "gte", "isnull", "in", "regex", "year", "foo"]),
            max_size=2,
        ).map(lambda parts: "__".join([field, *parts]))
    )

    @config
    @given(st.dictionaries(lookup_names, TEXT | st.integers().map(str), min_size=1, max_size=3))
    def admin_lookups(params):
        check(f"GET {outbox_admin} lookups (staff)", staff.get(outbox_admin, params), params)

    paged = [outbox_admin, "/admin/reports/report/", "/admin/durable/task/", "/reports/"]

    @config
    @given(st.sampled_from(paged), st.sampled_from(["p", "page"]), st.integers().map(str) | TEXT)
    def page_parameters(path, name, value):
        check("GET admin and report pages with page numbers (staff)", staff.get(path, {name: value}), (path, value))

    cases = [form_case(p, f) for p, f in FORMS.items()]
    cases += [
        raw_bodies,
        query_strings,
        reset_links,
        any_path,
        other_methods,
        admin_changelist,
        admin_actions,
        admin_change_page,
        admin_lookups,
        page_parameters,
    ]
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        for case in cases:
            try:
                case()
            except AssertionError:
                pass  # recorded in failures (Hypothesis shrank it first)
            except Exception as exc:  # noqa: BLE001 - a crash in the harness is a finding too
                failures[repr(case)] = f"{type(exc).__name__}: {exc}"
    result.figures = {"requests by endpoint": counts, "requests": sum(counts.values()), "5xx": len(failures)}
    for failure in failures.values():
        result.check(False, failure[:500])
    return result
