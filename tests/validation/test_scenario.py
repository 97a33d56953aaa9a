"""How measured rows become simulations: numbers in free text, names, engine defaults, workloads."""

from __future__ import annotations

import pytest

from llmsim.validation import PointsError, ServingPoint, read_points, scenario_for, shipped_points_path
from llmsim.validation.names import hardware_id, model_name
from llmsim.validation.points import first_number


def _point(**fields: object) -> ServingPoint:
    base: dict[str, object] = dict(
        file="x.csv", line=7, source="S", engine="vLLM", engine_version="~v0.6.4.dev, V0 engine",
        model="Llama-3.1-8B (Meta-Llama-3-8B arch; dummy weights)", gpu="A100-SXM4-80GB", tp=1, precision="BF16",
        input_len="32", output_len="128", dataset="synthetic", arrival="offline", arrival_value="static batch 8",
        metric="e2e_p50_s", value=1.0, notes="")
    base.update(fields)
    return ServingPoint(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "number"), [("~592 (sys 100+q 466+template; measured mean)", 592.0),
                                                ("10 (constant-interval)", 10.0), ("static batch 8", 8.0),
                                                ("all 200 at once (benchmark_throughput)", 200.0),
                                                ("ShareGPT", None)])
def test_first_number(text: str, number: float | None) -> None:
    """The first number of a free-text field, or None."""
    assert first_number(text) == number


@pytest.mark.parametrize(("gpu", "hw"), [("H100-SXM-80GB", "nvidia_H100_SXM"),
                                          ("H100-80GB (8xH100 CI node; SXM likely, not stated)", "nvidia_H100_SXM"),
                                          ("A100-SXM4-80GB", "nvidia_A100_80G_SXM"),
                                          ("A100-80GB (SXM assumed)", "nvidia_A100_80G_SXM"),
                                          ("A100-40GB (Lambda)", "nvidia_A100_SXM"), ("nvidia_L4", "nvidia_L4"),
                                          ("A100-40GB PCIe", "nvidia_A100"), ("NVIDIA L40S", "nvidia_L40S"),
                                          ("L4 24GB", "nvidia_L4"), ("H200-SXM-141GB", "nvidia_H200"),
                                          ("AMD Instinct MI300X", "amd_MI300X"), ("RTX A6000", "nvidia_A6000")])
def test_gpu_names(gpu: str, hw: str) -> None:
    """GPU names of the measured data map to llmsim hardware ids."""
    assert hardware_id(_point(gpu=gpu)) == hw


@pytest.mark.parametrize(("model", "name"), [("mistralai/Mistral-7B-Instruct-v0.2", "mistral-7b-v0.1"),
                                            ("Qwen/Qwen2.5-7B", "qwen2.5-7b-instruct"),
                                            ("Qwen/Qwen3-30B-A3B-Instruct-2507", "qwen3-30b-a3b"),
                                            ("01-ai/Yi-34B-Chat", "yi-34b"),
                                            ("meta-llama/Llama-2-13b-chat-hf", "llama-2-13b-hf")])
def test_model_variants_map_to_the_shipped_shapes(model: str, name: str) -> None:
    """Base, chat and instruct variants of a shipped model share its shapes."""
    assert model_name(_point(model=model)) == name


def test_llama31_is_not_llama3() -> None:
    """"Llama-3.1-8B (Meta-Llama-3-8B arch)" is Llama 3.1 (its 128K context changes V0's defaults)."""
    assert model_name(_point()) == "llama-3.1-8b-instruct"


@pytest.mark.parametrize(("field", "value"), [("model", "GPT-5-secret"), ("gpu", "TPU v5e")])
def test_unknown_names_name_the_row(field: str, value: str) -> None:
    """An unknown model or GPU is an error naming the file, line and field."""
    with pytest.raises(PointsError) as err:
        scenario_for(_point(**{field: value}))
    assert err.value.one_line().startswith(f"x.csv:7: {field}: unknown")


def test_v0_defaults_follow_max_model_len() -> None:
    """V0: chunked prefill at 512 tokens for a 128K model, else unchunked at max(max_model_len, 2048)."""
    small = scenario_for(_point())
    assert (small.chunked_prefill, small.max_num_batched_tokens, small.max_num_seqs) == (True, 512, 8)
    big = scenario_for(_point(model="Meta-Llama-3-70B-Instruct", tp=4, arrival_value="all 200 at once",
                              metric="throughput_req_s", input_len="ShareGPT", output_len="ShareGPT"))
    assert (big.chunked_prefill, big.max_num_batched_tokens, big.max_num_seqs) == (False, 8192, 256)
    assert big.workload == "burst" and big.requests == 200 and big.input_tokens is None


def test_notes_override_defaults() -> None:
    """Engine limits written in the notes win over the defaults."""
    s = scenario_for(_point(notes="max_num_seqs=128, max_num_batched_tokens=2048, chunked prefill on",
                            arrival="qps", arrival_value="20 (constant-interval)", metric="ttft_p50_ms"))
    assert (s.max_num_seqs, s.max_num_batched_tokens, s.chunked_prefill) == (128, 2048, True)
    assert (s.workload, s.process, s.rate, s.requests) == ("open", "constant", 20.0, 6000)


def test_poisson_rate_and_prompt_count() -> None:
    """'1 (Poisson)' with '200 prompts' in the dataset: Poisson at 1/s, 200 requests."""
    s = scenario_for(_point(arrival="qps", arrival_value="1 (Poisson)", dataset="ShareGPT_V3, 200 prompts, seed 0",
                            metric="ttft_p50_ms"))
    assert (s.process, s.rate, s.requests) == ("poisson", 1.0, 200)


def test_concurrency_is_a_closed_loop() -> None:
    """Concurrency 1 is one request alone; N > 1 is N closed-loop clients, 10 requests each."""
    one = scenario_for(_point(arrival="concurrency", arrival_value="1", metric="decode_tok_s_per_request"))
    eight = scenario_for(_point(arrival="concurrency", arrival_value="8", metric="decode_tok_s_per_request"))
    assert (one.workload, one.requests) == ("single", 1)
    assert (eight.workload, eight.requests) == ("closed", 80) and "8 clients" in eight.conditions
    with pytest.raises(PointsError, match="client count"):
        scenario_for(_point(arrival="concurrency", arrival_value="many", metric="ttft_p50_ms"))


def test_every_shipped_row_maps() -> None:
    """All 36 shipped measurements become scenarios; rows of one stage share one."""
    points = read_points(shipped_points_path())
    scenarios = [scenario_for(p) for p in points]
    assert len(points) == 36
    assert len(set(scenarios)) < len(scenarios)


@pytest.mark.parametrize(("version", "notes", "custom"), [
    ("~v0.6.4.dev, V0 engine", "", True), ("main @2024-03-06 (~v0.3.3)", "", False),
    ("main @2024-01-22 + fused MoE kernel PR (merged for v0.3.0)", "", False), ("v0.4.1", "", True),
    ("v0.4.0", "", False), ("0.11.0 V1", "--disable-custom-all-reduce", False), ("unknown", "", True)])
def test_custom_all_reduce_follows_the_version(version: str, notes: str, custom: bool) -> None:
    """vLLM's custom all-reduce is on by default from v0.4.1; the notes can turn it off."""
    s = scenario_for(_point(engine_version=version, notes=notes, tp=4, model="Meta-Llama-3-70B-Instruct"))
    assert s.custom_all_reduce is custom
    assert ("NCCL all-reduce" in s.conditions) is not custom


def test_sharegpt_lengths_follow_the_tokenizer() -> None:
    """A 128k-vocabulary model (Llama-3) gets the Llama-3 ShareGPT lengths, a 32k one (Mixtral) the Llama-2
    ones: the same answers are more tokens with a smaller vocabulary, and the tail is long (first answers)."""
    from llmsim.validation.simulate import sharegpt_pairs, sharegpt_tokenizer

    assert sharegpt_tokenizer("llama-3.1-8b-instruct") == "llama3"
    assert sharegpt_tokenizer("mixtral-8x7b-v0.1") == "llama2"
    l3, l2 = sharegpt_pairs("llama3"), sharegpt_pairs("llama2")
    assert len(l3) == len(l2) == 200
    out3, out2 = sorted(o for _, o in l3), sorted(o for _, o in l2)
    assert 190 < sum(out3) / 200 < 210 and sum(out2) > 1.1 * sum(out3)
    assert out3[-1] > 5 * out3[100]  # the longest answer is far above the median (a heavy tail)
    assert all(4 <= i <= 1024 and i + o <= 2048 for i, o in l3 + l2)  # vLLM's sampler filter


@pytest.mark.parametrize(("gpu", "arrival", "value", "limits"), [
    ("H100-SXM-80GB", "qps", "4 (Poisson)", (1024, 8192)), ("H100-SXM-80GB", "offline", "all 200 at once", (1024, 16384)),
    ("A100-SXM4-80GB", "qps", "4 (Poisson)", (256, 2048)), ("A100-SXM4-80GB", "offline", "all 200 at once", (256, 8192)),
])
def test_v1_rows_without_limits_get_the_gpus_defaults(gpu: str, arrival: str, value: str,
                                                      limits: tuple[int, int]) -> None:
    """A V1 row that does not state its limits runs with vLLM V1's defaults for its GPU, as a replay does."""
    s = scenario_for(_point(engine_version="0.11.0", gpu=gpu, arrival=arrival, arrival_value=value))
    assert (s.max_num_seqs, s.max_num_batched_tokens) == limits


@pytest.mark.parametrize(("precision", "notes", "kv"), [("FP8", "", None), ("FP8", "kv_cache_dtype=fp8", "fp8"),
                                                        ("FP8 (FP8 KV)", "", "fp8"), ("BF16", "", None)])
def test_fp8_rows_keep_a_16_bit_kv_cache_unless_they_say_so(precision: str, notes: str, kv: str | None) -> None:
    """FP8 weights (vLLM's --quantization fp8) keep the KV cache 16-bit, as vLLM's --kv-cache-dtype auto does."""
    assert scenario_for(_point(precision=precision, notes=notes)).kv_cache_dtype == kv
