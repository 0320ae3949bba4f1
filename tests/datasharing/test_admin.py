"""Every model has an admin page that loads, and its search works, for a superuser."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

OUR_APPS = {"catalog_app", "packages_app", "sharing_app", "automation_app"}


def our_models() -> list[type]:
    from django.apps import apps

    return [
        model
        for model in apps.get_models()
        if model._meta.app_label in OUR_APPS and not model._meta.auto_created
    ]


def inline_models() -> set[type]:
    return {
        inline.model
        for model_admin in admin.site._registry.values()
        for inline in model_admin.inlines
    }


def registered_models() -> list[type]:
    return [model for model in our_models() if model in admin.site._registry]


@pytest.mark.django_db
def test_every_model_of_ours_has_an_admin_page_or_inline() -> None:
    covered = set(admin.site._registry) | inline_models()
    missing = [m._meta.label for m in our_models() if m not in covered]
    assert missing == []


@pytest.mark.django_db
@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
def test_admin_changelist_and_search_load(model: type, demo_catalog: object) -> None:
    user = User.objects.create_superuser("root-admin", "root@example.org", "pw-for-tests-only")
    client = Client()
    client.force_login(user)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "L2400101"}).status_code == 200
    first = model._default_manager.first()
    if first is not None:
        change = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[first.pk]
        )
        assert client.get(change).status_code == 200
