"""The capped NVFlare waits: the table matches the installed NVFlare, only its call sites are capped, and
another NVFlare is refused loudly instead of silently running with waits that no longer exist."""

import shutil
import subprocess
import sys
import textwrap

import nvflare
import pytest

from flcampaign.execution import nvflare_waits
from flcampaign.execution.runner import simulate


def test_every_site_is_the_sleep_it_names_in_the_installed_nvflare():
    root = nvflare_waits.nvflare_dir()
    for site in nvflare_waits.SITES:
        line = (root / site.file).read_text().splitlines()[site.line - 1]
        assert line.strip().startswith(site.text), (site.file, site.line, line)
        assert 0 <= site.cap_seconds <= 0.2
    assert nvflare_waits.problems() == []


CAPPED_PROBE = textwrap.dedent(
    """
    import sys, time
    from flcampaign.execution import nvflare_waits
    nvflare_waits.install()
    site = nvflare_waits.SITES[int(sys.argv[1])]
    def timed(filename, line):
        code = compile("\\n" * (line - 1) + "time.sleep(0.6)", filename, "exec")
        start = time.perf_counter()
        exec(code, {"time": time})
        return time.perf_counter() - start
    root = "/somewhere/site-packages/nvflare/"
    print(timed(root + site.file, site.line), timed(root + site.file, site.line + 1),
          timed("/elsewhere/" + site.file, site.line))
    """
)


@pytest.mark.parametrize("index", [0, 1, 5])
def test_only_the_named_call_sites_are_capped(index):
    out = subprocess.run([sys.executable, "-c", CAPPED_PROBE, str(index)], capture_output=True, text=True, check=True)
    at_site, next_line, other_file = (float(value) for value in out.stdout.split())
    assert at_site < nvflare_waits.SITES[index].cap_seconds + 0.1
    assert next_line >= 0.6 and other_file >= 0.6  # every other sleep waits as long as it was asked to


def test_a_changed_nvflare_file_or_version_is_named(tmp_path, monkeypatch):
    copy = tmp_path / "nvflare"
    for file in {site.file for site in nvflare_waits.SITES}:
        (copy / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(nvflare_waits.nvflare_dir() / file, copy / file)
    monkeypatch.setattr(nvflare_waits, "nvflare_dir", lambda: copy)
    assert nvflare_waits.problems() == []  # the copy is what the waits were read from
    site = nvflare_waits.SITES[0]
    text = (copy / site.file).read_text()
    (copy / site.file).write_text(text.replace("time.sleep(0.5)", "time.sleep(0.25)", 1))
    monkeypatch.setattr(nvflare, "__version__", "2.10.0")
    found = nvflare_waits.problems()
    assert any("2.10.0" in problem for problem in found)
    assert any("files that hold the waits" in problem for problem in found)


def test_a_run_on_another_nvflare_is_refused_with_the_setting_that_allows_it(monkeypatch, tmp_path):
    monkeypatch.setattr(nvflare, "__version__", "2.10.0")
    with pytest.raises(nvflare_waits.NVFlareMismatch, match="execution.shorten_nvflare_waits") as raised:
        simulate(None, {}, tmp_path, tmp_path, "search", 0, tmp_path / "out", tmp_path / "work", [], tmp_path, None)  # type: ignore[arg-type]
    assert "2.10.0" in str(raised.value) and nvflare_waits.NVFLARE_VERSION in str(raised.value)
    assert not (tmp_path / "out").exists()  # refused before anything was written
