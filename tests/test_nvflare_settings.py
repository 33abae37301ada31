"""The NVFlare waits the runner shortens: written into the exported server configuration, nowhere else."""

import argparse
import copy
import json

from flcampaign.execution import nvflare_settings

EXPORTED = {
    "format_version": 2,
    "workflows": [
        {"id": "controller", "path": nvflare_settings.FEDAVG, "args": {"num_rounds": 15, "num_clients": 4}},
        {"id": "other", "path": "nvflare.app_common.workflows.cross_site_model_eval.CrossSiteModelEval", "args": {}},
    ],
}


def test_the_settings_go_into_the_server_section_and_fedavg_only():
    config = copy.deepcopy(EXPORTED)
    recorded = nvflare_settings.apply(config, nvflare_settings.DEFAULTS)
    assert config["server"] == {"task_request_interval": nvflare_settings.DEFAULTS["task_request_interval"]}
    assert config["workflows"][0]["args"] == {
        "num_rounds": 15,
        "num_clients": 4,
        "task_check_period": nvflare_settings.DEFAULTS["task_check_period"],
    }
    assert config["workflows"][1]["args"] == {}
    assert recorded["nvflare"] and recorded["task_request_interval"] == 0.1 and recorded["task_check_period"] == 0.05


def test_no_settings_leave_nvflares_defaults():
    config = copy.deepcopy(EXPORTED)
    assert nvflare_settings.apply(config, {}) == {"nvflare": nvflare_settings.nvflare.__version__}
    assert config == EXPORTED


def test_nvflare_reads_them_from_the_exported_job(tmp_path):
    """NVFlare's own server configurator parses what the runner writes: fields it supports, no patch."""
    from nvflare.apis.workspace import Workspace
    from nvflare.private.fed.server.server_json_config import ServerJsonConfigurator

    config = copy.deepcopy(EXPORTED)
    config["workflows"] = config["workflows"][:1]
    nvflare_settings.apply(config, nvflare_settings.DEFAULTS)
    (tmp_path / "startup").mkdir()
    (tmp_path / "local").mkdir()
    (tmp_path / "config_fed_server.json").write_text(json.dumps(config))
    configurator = ServerJsonConfigurator(
        workspace_obj=Workspace(root_dir=str(tmp_path), site_name="server"),
        config_file_name=str(tmp_path / "config_fed_server.json"),
        args=argparse.Namespace(job_id="job", workspace=str(tmp_path)),
        app_root=str(tmp_path),
    )
    configurator.configure()
    assert configurator.runner_config.task_request_interval == 0.1
    assert configurator.runner_config.workflows[0].controller._task_check_period == 0.05


def test_the_task_check_bound_goes_into_the_client_configuration_where_nvflare_reads_it():
    client = {"format_version": 2, "executors": []}
    nvflare_settings.apply_client(client, nvflare_settings.DEFAULTS)
    assert client == {"format_version": 2, "executors": [], "task_check_timeout": 60.0}
    untouched = {"format_version": 2}
    nvflare_settings.apply_client(untouched, {})
    assert untouched == {"format_version": 2}
    # the look-up ClientRunner makes (ConfigVarName.TASK_CHECK_TIMEOUT in the application configuration)
    from nvflare.apis.fl_constant import ConfigVarName, SystemConfigs
    from nvflare.fuel.utils import app_config_utils
    from nvflare.fuel.utils.config_service import ConfigService

    ConfigService._var_values.pop(ConfigVarName.TASK_CHECK_TIMEOUT, None)
    ConfigService.add_section(section_name=SystemConfigs.APPLICATION_CONF, data=client)
    try:
        assert app_config_utils.get_positive_float_var(ConfigVarName.TASK_CHECK_TIMEOUT, 5.0) == 60.0
    finally:
        ConfigService._var_values.pop(ConfigVarName.TASK_CHECK_TIMEOUT, None)
