import pytest

from tether import config
from tether.errors import ConfigError


def write(path, text):
    path.write_text(text)
    return path


def test_defaults_offer_the_local_model_and_hosted_providers():
    cfg = config.load()
    assert cfg.path is None
    assert cfg.routes["default"].models == ("local/qwen2.5-coder-1.5b",)
    assert cfg.providers["openai"].api_key_env == "OPENAI_API_KEY"
    assert cfg.providers["local"].kind == "local"


def test_project_file_is_found_from_a_subfolder(isolated):
    write(isolated / "tether.toml", '[routes.fast]\nmodels = ["openai/gpt-4.1-mini", "local/smollm2-135m"]\n')
    sub = isolated / "src" / "deep"
    sub.mkdir(parents=True)
    found = config.project_config(sub)
    assert found == isolated / "tether.toml"
    assert config.load(found).routes["fast"].models == ("openai/gpt-4.1-mini", "local/smollm2-135m")  # named: the user's word
    assert "fast" not in config.load(start=sub).routes  # found: a route is not the untrusted project's to add


def test_user_config_under_xdg_config_home(isolated):
    user = isolated / "config" / "tether" / "config.toml"
    user.parent.mkdir(parents=True)
    write(user, "[budget]\nusd_per_day = 2.5\n")
    assert config.load().budget.usd_per_day == 2.5


def test_data_dir_follows_xdg_data_home(isolated):
    assert config.data_dir() == isolated / "data" / "tether"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[routes.x\nmodels=1", "not valid TOML"),
        ('[providers.mine]\nkind = "grpc"\n', "kind must be one of"),
        ('[providers.mine]\nkind = "openai"\n', "needs a base_url"),
        ('[providers.openai]\napi_key = "sk-secret"\n', "unknown key 'api_key'"),
        ("[routes.r]\nmodels = []\n", "non-empty list"),
        ('[routes.r]\nmodels = ["gpt-4"]\n', 'must be written "provider/model"'),
        ('[routes.r]\nmodels = ["nowhere/x"]\n', "no provider 'nowhere'"),
        ('[routes.r]\nmodels = ["local/smollm2-135m"]\nretries = -1\n', "retries must be a whole number"),
        ('[budget]\nusd_per_day = "ten"\n', "usd_per_day must be a number"),
        ("routes = 3\n", "[routes] must be a table"),
        ("[budgets]\nusd_per_day = 1\n", "unknown section [budgets]"),
        ('[routes.r]\nmodels = ["local/smollm2-135m"]\ndeadline = 0\n', "deadline must be a number > 0"),
        ('[routes.r]\nmodels = ["local/smollm2-135m"]\ndeadline = nan\n', "deadline must be a number > 0"),
        ("[budget]\nusd_per_day = inf\n", "usd_per_day must be a number >= 0"),
        ('[models."openai/gpt-4o"]\ncached_per_mtok = "cheap"\n', "cached_per_mtok must be a number >= 0"),
        ('[models."openai/gpt-4o"]\ncached_per_mtok = -1\n', "cached_per_mtok must be a number >= 0"),
        ('[providers.mine]\nkind = "openai"\nbase_url = "http://x"\ntimeout = 0\n', "timeout must be a number > 0"),
    ],
)
def test_malformed_config_is_one_clear_line_naming_the_file(isolated, text, message):
    path = write(isolated / "tether.toml", text)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_explicit_config_file(isolated):
    with pytest.raises(ConfigError, match="no such config file"):
        config.load(isolated / "nope.toml")


def test_user_provider_overrides_builtin_fields():
    cfg = config.from_dict({"providers": {"openai": {"base_url": "http://127.0.0.1:9/v1"}}})
    assert cfg.providers["openai"].base_url == "http://127.0.0.1:9/v1"
    assert cfg.providers["openai"].api_key_env == "OPENAI_API_KEY"
