"""`llmsim validate` end to end on a four-row fixture: table, shared runs, MAPE, JSON, CSV, errors."""

from __future__ import annotations

import csv
import importlib
import io
import json
from pathlib import Path

import msgspec
import pytest

from llmsim.cli import main
from llmsim.cost import get_profile
from llmsim.validation import evaluate, mape_by, read_points
from llmsim.validation.report import GROUPS

evaluate_module = importlib.import_module("llmsim.validation.evaluate")  # the package exports the function
TINY = ["--duration", "4"]  # 8 requests at 2/s for the constant-rate rows


def _validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_table_has_every_row_and_the_mape_groups(small_points: str, capsys: pytest.CaptureFixture[str]) -> None:
    """One line per point with predicted, measured and error, then MAPE per source, GPU, class, family."""
    code, out, _ = _validate(capsys, "--data", small_points, *TINY)
    assert code == 0
    lines = out.splitlines()
    assert sum(1 for line in lines if "llama-2-7b-hf" in line and "nvidia_H100_SXM" in line) == 4
    for heading in ("MAPE by source:", "MAPE by gpu:", "MAPE by model class:", "MAPE by metric family:"):
        assert heading in lines
    assert any(line.strip().startswith("batch latency") for line in lines)
    assert any("constant 2/s x8" in line for line in lines)


def test_a_wrong_point_shows_a_large_error(small_points: str) -> None:
    """The deliberately wrong measurement (100x too fast) is flagged by a huge error: the check can fail."""
    results = evaluate(read_points(small_points), duration_s=4)
    wrong = next(r for r in results if r.point.source == "WRONG")
    batch = next(r for r in results if r.point.source == "TINY_BATCH")
    assert wrong.predicted == batch.predicted > 0
    assert wrong.error_pct > 1000
    assert abs(batch.error_pct) < abs(wrong.error_pct) / 10


def test_max_mape_fails_the_command(small_points: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--max-mape exits 1 when a metric family is off by more than the limit."""
    assert _validate(capsys, "--data", small_points, *TINY, "--max-mape", "50")[0] == 1
    assert _validate(capsys, "--data", small_points, *TINY, "--source", "TINY_SERVE", "--max-mape", "1e9")[0] == 0


def test_rows_of_one_stage_share_one_simulation(small_points: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """TTFT and E2E of the same stage, and two rows with equal conditions, are one run each."""
    calls: list[object] = []
    real = evaluate_module.simulate

    def counting(scenario: object, calibration: object = "default") -> dict[str, object]:
        calls.append(scenario)
        return real(scenario, calibration)  # type: ignore[arg-type]

    monkeypatch.setattr(evaluate_module, "simulate", counting)
    assert len(evaluate(read_points(small_points), duration_s=4)) == 4
    assert len(calls) == 2


def test_mape_grouping(small_points: str) -> None:
    """MAPE per group is the mean absolute error of its rows."""
    results = evaluate(read_points(small_points), duration_s=4)
    by_source = mape_by(results, GROUPS["source"])
    assert list(by_source) == ["TINY_BATCH", "TINY_SERVE", "WRONG"]
    serve = [abs(r.error_pct) for r in results if r.point.source == "TINY_SERVE"]
    assert by_source["TINY_SERVE"] == {"mape_pct": pytest.approx(sum(serve) / 2), "n": 2}
    families = mape_by(results, GROUPS["metric family"])
    assert families["batch latency"]["n"] == 2 and set(families) == {"batch latency", "TTFT p50", "E2E p50"}


def test_json_and_csv_outputs(small_points: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--json holds every point and the MAPE tables; --csv one row per point, same numbers."""
    code, out, _ = _validate(capsys, "--data", small_points, *TINY, "--json")
    doc = json.loads(out)
    assert code == 0 and len(doc["points"]) == 4 and doc["calibration"].startswith("auto (each row under")
    code, out, _ = _validate(capsys, "--data", small_points, *TINY, "--json", "--calibration", "default")
    assert json.loads(out)["calibration"] == "default (nvidia_H100_SXM: vllm-v1-hopper)"
    assert set(doc["mape"]) == {"source", "gpu", "model class", "metric family"}
    assert doc["overall"]["n"] == 4
    code, out, _ = _validate(capsys, "--data", small_points, *TINY, "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["line"]) for r in rows] == [2, 3, 4, 5]
    assert [float(r["predicted"]) for r in rows] == pytest.approx([p["predicted"] for p in doc["points"]])


def test_a_profile_object_is_accepted(small_points: str) -> None:
    """evaluate() takes a CalibrationProfile object (as a fit produces) as well as a name."""
    points = [p for p in read_points(small_points) if p.source == "TINY_BATCH"]
    shipped = get_profile("default", "nvidia_H100_SXM")
    copy = msgspec.structs.replace(shipped, name="validate-test-copy")
    slower = msgspec.structs.replace(shipped, name="validate-test-slower", iteration_overhead_s=0.01)
    by_name = evaluate(points, "default")[0].predicted
    assert evaluate(points, copy)[0].predicted == by_name
    assert evaluate(points, lambda hw: copy)[0].predicted == by_name
    assert evaluate(points, slower)[0].predicted > by_name + 0.1  # 16 iterations x 10 ms


def test_plot_writes_a_png(small_points: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--plot FILE.png writes the predicted-vs-measured scatter."""
    pytest.importorskip("matplotlib")
    target = tmp_path / "v.png"
    assert _validate(capsys, "--data", small_points, "--source", "TINY_BATCH", "--plot", str(target))[0] == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


HEADER = ("source,url_or_repo_path,engine,engine_version,model,gpu,n_gpus,tp,precision,input_len,output_len,dataset,"
          "arrival,arrival_value,metric,value,notes\n")
GOOD = "S,u,vLLM,1.0,Llama-2-7b,H100-SXM-80GB,1,1,FP16,32,16,x,offline,static batch 2,e2e_p50_s,0.2,\n"


@pytest.mark.parametrize(("text", "expected"), [
    ("source,model\nS,m\n", ":1: header: missing column 'gpu'"),
    (HEADER + GOOD.replace(",0.2,", ",fast,"), ":2: value: 'fast' is not a positive number"),
    (HEADER + GOOD + GOOD.replace("e2e_p50_s", "latency"), ":3: metric: unknown metric 'latency'"),
    (HEADER + GOOD.replace("Llama-2-7b", "NoSuchModel-9B"), ":2: model: unknown model 'NoSuchModel-9B'"),
    (HEADER + GOOD.replace("H100-SXM-80GB", "Gaudi3"), ":2: gpu: unknown GPU 'Gaudi3'"),
    (HEADER + GOOD.replace(",1,1,FP16", ",1,one,FP16"), ":2: tp: 'one' is not a tensor-parallel degree"),
    (HEADER + "S,u,vLLM\n", ":2: 3 fields, the header has 17"),
    (HEADER, ":2: no rows after the header"),
])
def test_bad_csv_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                        expected: str) -> None:
    """A bad CSV: exit 2 and one line naming the file, the line, the field and what was expected."""
    path = tmp_path / "bad.csv"
    path.write_text(text)
    code, out, err = _validate(capsys, "--data", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"llmsim: error: {path}{expected}")


def test_rows_of_unknown_gpus_are_left_out_and_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A CSV where some rows name a GPU llmsim does not know: those rows are left out, each with one line
    naming file, line and field; the rest are simulated and reported (exit 0)."""
    path = tmp_path / "mixed.csv"
    path.write_text(HEADER + GOOD + GOOD.replace("H100-SXM-80GB", "Gaudi3") + GOOD.replace("H100-SXM-80GB", "A10G"))
    code, out, err = _validate(capsys, "--data", str(path))
    assert code == 0
    assert f"row left out: {path}:3: gpu: unknown GPU 'Gaudi3'" in err
    assert "1 of 3 rows left out, 2 simulated" in err
    assert "overall MAPE" in out and "over 2 points" in out and "nvidia_A10 " in out
    code, out, _ = _validate(capsys, "--data", str(path), "--json")
    doc = json.loads(out)
    assert code == 0 and len(doc["points"]) == 2 and len(doc["left_out"]) == 1
    assert doc["left_out"][0].startswith(f"{path}:3: gpu: unknown GPU 'Gaudi3'")


def test_missing_file_and_unknown_source(small_points: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file or a --source no row has: exit 2, one line."""
    code, _, err = _validate(capsys, "--data", str(tmp_path / "nope.csv"))
    assert code == 2 and "no such file" in err
    code, _, err = _validate(capsys, "--data", small_points, "--source", "NOPE")
    assert code == 2 and "--source" in err and "TINY_BATCH" in err


def test_write_fidelity_table(small_points: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--write-fidelity writes a FidelityTable the run-time lookup reads: the wrong point's error is there."""
    from llmsim.cost.fidelity import FidelityTable, expected_error

    target = tmp_path / "fidelity.json"
    assert _validate(capsys, "--data", small_points, *TINY, "--calibration", "default",
                     "--write-fidelity", str(target))[0] == 0
    table = msgspec.json.decode(target.read_bytes(), type=FidelityTable)
    assert len(table.points) == 4
    point = table.points[0]
    assert (point.calibration, point.gpu, point.tp, point.precision) == (
        get_profile("default", "nvidia_H100_SXM").name, "NVIDIA H100 SXM5 80GB", 1, "fp16")
    found = expected_error(point.calibration, point.gpu, point.model_class, 1, "fp16", table)
    assert found.status == "validated" and found.points == 4 and found.max_abs_error_pct is not None
    assert found.max_abs_error_pct > 1000


def test_plot_without_matplotlib_and_unknown_calibration(small_points: str, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """No matplotlib, or a calibration that does not exist: one line, exit 2, before any simulation."""
    from llmsim import plotting

    monkeypatch.setattr(plotting, "available", lambda: False)
    code, _, err = _validate(capsys, "--data", small_points, "--plot", "x.png")
    assert code == 2 and err.count("\n") == 1 and "matplotlib" in err
    code, _, err = _validate(capsys, "--data", small_points, "--calibration", "no-such-profile")
    assert code == 2 and err.count("\n") == 1 and "no-such-profile" in err


def test_saturated_runs_are_flagged(small_points: str) -> None:
    """An open-loop run whose queue keeps growing carries a 'saturated' note; the others none."""
    from llmsim.validation.evaluate import saturation_note

    point = next(p for p in read_points(small_points) if p.source == "TINY_SERVE")
    scenario = evaluate([point], duration_s=4)[0].scenario

    def stats(queue_p90_s: float) -> dict[str, object]:
        return {"latency": {"queue_s": {"p90": queue_p90_s}}, "arrivals": {"span_s": 100.0},
                "throughput": {"requests_per_s": 1.5}}

    assert saturation_note(scenario, stats(30.0)).startswith("saturated: queue p90 30 s")
    assert saturation_note(scenario, stats(0.5)) == ""
    assert evaluate([point], duration_s=4)[0].note == ""


def test_closed_loop_row_runs(tmp_path: Path) -> None:
    """A concurrency-4 row runs as 4 closed-loop clients: 40 requests, never more than 4 in flight."""
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "S,u,vLLM,1.0,Llama-2-7b,H100-SXM-80GB,1,1,FP16,64,8,x,concurrency,4,"
                             "decode_tok_s_per_request,100,\n")
    result = evaluate(read_points(str(path)))[0]
    assert (result.scenario.workload, result.scenario.requests) == ("closed", 40)
    assert result.ok and result.predicted > 0 and result.family == "ITL / decode rate"
    stats = evaluate_module.simulate(result.scenario)
    assert stats["requests"]["completed"] == 40
    gpus = [g for node in stats["nodes"].values() for g in node["gpus"]]
    assert gpus and all(0 < g["mean_batch_size"] <= 4 for g in gpus)


def test_auto_runs_each_row_under_its_engine_family(small_points: str) -> None:
    """`auto`: V0-era rows under vllm-v0, the others under vllm-v1; the fitted profiles differ."""
    from llmsim.validation import evaluate, read_points
    from llmsim.validation.scenario import engine_family

    points = read_points(small_points)
    results = evaluate(points, "auto", duration_s=4)
    assert [r.calibration for r in results] == [engine_family(p) for p in points]
    assert get_profile("vllm-v0", "nvidia_H100_SXM").iteration_overhead_s != \
        get_profile("vllm-v1", "nvidia_H100_SXM").iteration_overhead_s
