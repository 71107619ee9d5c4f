"""Experiments: create/get/by-name, errors, search grammar, rename, lifecycle, tags."""

import time

import mlflow
import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException, RestException

from helpers import assert_error, unique_name


def test_create_get_and_get_by_name(client, exp_name):
    before = int(time.time() * 1000) - 5000
    eid = client.create_experiment(exp_name, tags={"team": "vision", "k.with.dots": "v"})
    assert isinstance(eid, str) and eid.isdigit() and eid != "0"
    exp = client.get_experiment(eid)
    assert exp.experiment_id == eid
    assert exp.name == exp_name
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"team": "vision", "k.with.dots": "v"}
    assert before <= exp.creation_time <= int(time.time() * 1000) + 5000
    assert exp.last_update_time >= exp.creation_time
    # the client relies on this to upload through the server's artifact proxy
    assert exp.artifact_location == f"mlflow-artifacts:/{eid}"
    by_name = client.get_experiment_by_name(exp_name)
    assert by_name.experiment_id == eid and by_name.tags == exp.tags


def test_default_experiment_exists(client):
    exp = client.get_experiment("0")
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    assert client.get_experiment_by_name("Default").experiment_id == "0"


def test_duplicate_name_is_resource_already_exists(client, api, exp_name):
    client.create_experiment(exp_name)
    with pytest.raises(RestException) as ei:
        client.create_experiment(exp_name)
    assert ei.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert_error(api.post("experiments/create", {"name": exp_name}), 400, "RESOURCE_ALREADY_EXISTS")


def test_unknown_experiment_is_404(client, api, exp_name):
    assert client.get_experiment_by_name(exp_name + "-missing") is None
    with pytest.raises(RestException) as ei:
        client.get_experiment("987654321")
    assert ei.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert_error(api.get("experiments/get", {"experiment_id": "987654321"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.get("experiments/get-by-name", {"experiment_name": exp_name + "-missing"}),
                 404, "RESOURCE_DOES_NOT_EXIST")


def test_create_validation(api):
    assert_error(api.post("experiments/create", {}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post("experiments/create", {"name": ""}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post("experiments/create", {"name": "x" * 501}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post("experiments/create", {"name": 123}), 400, "INVALID_PARAMETER_VALUE")


def test_rename(client, exp_name):
    eid = client.create_experiment(exp_name)
    client.rename_experiment(eid, exp_name + "-renamed")
    assert client.get_experiment(eid).name == exp_name + "-renamed"
    assert client.get_experiment_by_name(exp_name) is None
    assert client.get_experiment_by_name(exp_name + "-renamed").experiment_id == eid


def test_delete_restore_and_view_types(client, exp_name):
    eid = client.create_experiment(exp_name)
    client.delete_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    # a deleted experiment's name is still taken
    with pytest.raises(MlflowException):
        client.create_experiment(exp_name)

    flt = f"name = '{exp_name}'"
    assert client.search_experiments(filter_string=flt) == []
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=flt)
    assert [e.experiment_id for e in deleted] == [eid]
    alls = client.search_experiments(view_type=ViewType.ALL, filter_string=flt)
    assert [e.experiment_id for e in alls] == [eid]

    client.restore_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "active"
    assert [e.experiment_id for e in client.search_experiments(filter_string=flt)] == [eid]


def test_deleted_experiment_rejects_new_runs(client, exp_name):
    eid = client.create_experiment(exp_name)
    client.delete_experiment(eid)
    with pytest.raises(MlflowException) as ei:
        client.create_run(eid)
    assert ei.value.error_code == "INVALID_PARAMETER_VALUE"


def test_experiment_tags_set_and_delete(client, exp_name):
    eid = client.create_experiment(exp_name)
    client.set_experiment_tag(eid, "stage", "dev")
    client.set_experiment_tag(eid, "stage", "prod")  # overwrite
    client.set_experiment_tag(eid, "owner", "ann")
    assert client.get_experiment(eid).tags == {"stage": "prod", "owner": "ann"}
    client.delete_experiment_tag(eid, "owner")
    assert client.get_experiment(eid).tags == {"stage": "prod"}


def test_search_filters(client, request):
    prefix = unique_name(request)
    ids = {}
    for name, tags in [("alpha", {"grp": "x", "size": "big"}),
                       ("Alpha-2", {"grp": "x"}),
                       ("beta", {"grp": "y"})]:
        ids[name] = client.create_experiment(f"{prefix}-{name}", tags=tags)

    def names(flt, **kw):
        return sorted(e.name[len(prefix) + 1:] for e in client.search_experiments(filter_string=flt, **kw))

    assert names(f"name LIKE '{prefix}-%'") == ["Alpha-2", "alpha", "beta"]
    assert names(f"name LIKE '{prefix}-a%'") == ["alpha"]  # LIKE is case-sensitive
    assert names(f"name ILIKE '{prefix}-a%'") == ["Alpha-2", "alpha"]
    assert names(f"name = '{prefix}-beta'") == ["beta"]
    assert names(f"name LIKE '{prefix}-%' AND name != '{prefix}-beta'") == ["Alpha-2", "alpha"]
    assert names(f"name LIKE '{prefix}-%' AND tags.grp = 'x'") == ["Alpha-2", "alpha"]
    assert names(f"name LIKE '{prefix}-%' AND tags.size = 'big'") == ["alpha"]
    assert names(f"name LIKE '{prefix}-%' AND tags.grp != 'x'") == ["beta"]
    assert names(f"name LIKE '{prefix}-%' AND tags.`grp` LIKE 'y%'") == ["beta"]


def test_search_order_and_paging(client, request):
    prefix = unique_name(request)
    created = []
    for i in range(5):
        created.append(client.create_experiment(f"{prefix}-{i}"))
    flt = f"name LIKE '{prefix}-%'"

    asc = client.search_experiments(filter_string=flt, order_by=["name ASC"])
    assert [e.experiment_id for e in asc] == created
    desc = client.search_experiments(filter_string=flt, order_by=["name DESC"])
    assert [e.experiment_id for e in desc] == created[::-1]
    by_id = client.search_experiments(filter_string=flt, order_by=["experiment_id DESC"])
    assert [e.experiment_id for e in by_id] == sorted(created, key=int, reverse=True)

    seen = []
    page = client.search_experiments(filter_string=flt, order_by=["name"], max_results=2)
    pages = 0
    while True:
        pages += 1
        assert len(page) <= 2
        seen.extend(e.experiment_id for e in page)
        if not page.token:
            break
        page = client.search_experiments(filter_string=flt, order_by=["name"], max_results=2,
                                         page_token=page.token)
    assert seen == created
    assert pages == 3


def test_search_bad_filter_is_400(api):
    r = api.post("experiments/search", {"filter": "name ~ 'x'", "max_results": 10})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = api.post("experiments/search", {"filter": "metrics.acc > 1", "max_results": 10})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_set_experiment_fluent_creates_once(exp_name):
    e1 = mlflow.set_experiment(exp_name)
    e2 = mlflow.set_experiment(exp_name)
    assert e1.experiment_id == e2.experiment_id
    assert mlflow.get_experiment_by_name(exp_name).experiment_id == e1.experiment_id
