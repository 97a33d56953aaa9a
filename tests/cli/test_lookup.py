"""`llmsim hardware`, `llmsim models` and `llmsim cost`'s fit line: what a new user can look up."""

from __future__ import annotations

import json

import pytest

from llmsim.cli import main


def out(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_hardware_table_names_each_card_and_its_twins(capsys: pytest.CaptureFixture[str]) -> None:
    text = out(capsys, "hardware")
    a100 = next(line for line in text.splitlines() if line.startswith("nvidia_A100 "))
    assert "NVIDIA A100 40GB PCIe" in a100 and "40 GiB" in a100 and "1.55 TB/s" in a100 and "pcie" in a100
    h100 = next(line for line in text.splitlines() if line.startswith("nvidia_H100 "))
    assert h100.endswith("same card as nvidia_H100_SXM")
    rows = json.loads(out(capsys, "hardware", "--json"))
    by_id = {r["id"]: r for r in rows}
    assert by_id["nvidia_A100_80G_SXM"]["memory_bytes"] == 80 * 2**30
    assert by_id["nvidia_H100_SXM"]["same_card_as"] == ["nvidia_H100"]
    assert by_id["nvidia_A100"]["same_card_as"] == [] and by_id["nvidia_A100"]["source"]


def test_models_table_sizes_and_smallest_tp(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(out(capsys, "models", "--json"))
    models = {r["model"]: r for r in data["models"]}
    m = models["llama-3.1-8b-instruct"]
    assert 7.9e9 < m["parameters"] < 8.1e9
    assert m["kv_bytes_per_token"]["fp16"] == 32 * 8 * 128 * 2 * 2  # layers x KV heads x head dim x K,V x bytes
    assert m["weight_bytes"]["fp8"] * 2 == pytest.approx(m["weight_bytes"]["fp16"], rel=0.01)
    big = models["llama-3.1-70b-instruct"]["smallest_tp"]
    assert big["nvidia_A100"] == 4 and big["nvidia_A100_80G_SXM"] == 2 and big["nvidia_H200"] == 2 and big["amd_MI300X"] == 1
    text = out(capsys, "models")
    assert "llama-3.1-70b-instruct: TP1: amd_MI300X, nvidia_B200; TP2: " in text


def test_cost_says_when_the_weights_do_not_fit(capsys: pytest.CaptureFixture[str]) -> None:
    text = out(capsys, "cost", "--model", "llama-3.1-70b-instruct", "--hardware", "nvidia_A100")
    assert "DOES NOT FIT: weights 131.4 GiB" in text and "the smallest TP that fits is 4" in text
    data = json.loads(out(capsys, "cost", "--model", "llama-3.1-70b-instruct", "--hardware", "nvidia_A100",
                          "--tp", "4", "--json"))
    assert data["fits"]["fits"] is True and data["fits"]["kv_blocks"] > 0
