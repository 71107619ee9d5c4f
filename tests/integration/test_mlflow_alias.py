"""get-model-version-by-alias after the version behind the alias is deleted (issue 15).

MLflow keeps the alias and answers 404 RESOURCE_DOES_NOT_EXIST "Model Version (name=N,
version=V) not found"; cairn drops the alias with its version (registered-models/get no longer
lists it: test_registry.py, cairn_only) but answers get-by-alias as MLflow does. An alias never
set, or deleted by its own call, stays 400 "Registered model alias A not found.".
"""

import uuid

from helpers import assert_error


def _name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_alias_of_a_deleted_version_is_not_found(api, client, exp_id):
    name = _name("alias")
    api.post("registered-models/create", {"name": name})
    run = client.create_run(exp_id).info.run_id
    for _ in range(3):
        assert api.post("model-versions/create", {"name": name, "source": f"runs:/{run}/m"}).status_code == 200
    assert api.post("registered-models/alias", {"name": name, "alias": "champ", "version": "3"}).status_code == 200
    assert api.post("registered-models/alias", {"name": name, "alias": "other", "version": "1"}).status_code == 200
    r = api.request("DELETE", "model-versions/delete", json={"name": name, "version": "3"})
    assert r.status_code == 200, r.text
    body = assert_error(api.get("registered-models/alias", {"name": name, "alias": "champ"}), 404,
                        "RESOURCE_DOES_NOT_EXIST")
    assert body["message"] == f"Model Version (name={name}, version=3) not found"
    assert api.get("registered-models/alias", {"name": name, "alias": "other"}).json()["model_version"]["version"] == "1"
    body = assert_error(api.get("registered-models/alias", {"name": name, "alias": "never"}), 400,
                        "INVALID_PARAMETER_VALUE")
    assert body["message"] == "Registered model alias never not found."
    # set again, then deleted by its own call: not found as an alias again
    assert api.post("registered-models/alias", {"name": name, "alias": "champ", "version": "2"}).status_code == 200
    assert api.get("registered-models/alias", {"name": name, "alias": "champ"}).json()["model_version"]["version"] == "2"
    assert api.request("DELETE", "registered-models/alias", json={"name": name, "alias": "champ"}).status_code == 200
    assert_error(api.get("registered-models/alias", {"name": name, "alias": "champ"}), 400, "INVALID_PARAMETER_VALUE")
