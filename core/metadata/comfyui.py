"""ComfyUI: the `prompt` chunk (API graph) or, failing that, the `workflow` chunk (UI graph).

Only the common shape is understood: one KSampler whose model comes from a checkpoint loader
(through LoRA loaders), whose positive/negative come from CLIPTextEncode nodes and whose latent
comes from EmptyLatentImage. What else the graph holds is listed in `unmapped`.
"""

from __future__ import annotations

from typing import Any

from core.metadata.imported import ImportedMetadata, convert_into, json_object, whole_number
from core.metadata.sampler_names import COMFY_SAMPLERS, COMFY_SCHEDULERS, map_sampler

Graph = dict[str, dict[str, Any]]  # node id -> {"class_type": ..., "inputs": {...}}

_SAMPLER_CLASSES = ("KSampler", "KSamplerAdvanced")
_EMPTY_LATENTS = ("EmptyLatentImage", "EmptySD3LatentImage")
# Nodes every plain graph has; listing them as "not imported" would only be noise.
_PLUMBING = {"VAEDecode", "VAELoader", "SaveImage", "PreviewImage", "Reroute", "Note", "PrimitiveNode"}
_MAX_HOPS = 32  # a cycle or a very long chain in a hand-edited graph must not hang `easel info`
# Where a text encoder (or the string node feeding it) keeps its text; SDXL's encoder has text_g.
_TEXT_INPUTS = ("text", "text_g", "value", "string")

# widgets_values order of the UI workflow format, for the nodes this importer reads.
_WIDGETS = {
    "KSampler": ("seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler", "denoise"),
    "KSamplerAdvanced": ("add_noise", "noise_seed", "control_after_generate", "steps", "cfg", "sampler_name",
                         "scheduler", "start_at_step", "end_at_step", "return_with_leftover_noise"),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "CLIPTextEncode": ("text",),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "LoraLoader": ("lora_name", "strength_model", "strength_clip"),
    "CLIPSetLastLayer": ("stop_at_clip_layer",),
}


def from_comfyui(prompt_text: str | None, workflow_text: str | None) -> ImportedMetadata | None:
    """Request fields from a ComfyUI image's chunks, or None when neither holds a graph."""
    graph = _api_graph(json_object(prompt_text))
    raw = prompt_text or ""
    if graph is None:
        graph = _workflow_graph(json_object(workflow_text))
        raw = workflow_text or ""
    if graph is None:
        return None
    return _import_graph(graph, raw)


def _api_graph(data: dict[str, Any] | None) -> Graph | None:
    if not data:
        return None
    nodes = {
        str(key): {"class_type": node["class_type"], "inputs": _dict_or_empty(node.get("inputs"))}
        for key, node in data.items()
        if isinstance(node, dict) and isinstance(node.get("class_type"), str)
    }
    return nodes or None


def _workflow_graph(data: dict[str, Any] | None) -> Graph | None:
    """The UI format turned into the API shape: widget values by name, links as [node, slot]."""
    if not data or not isinstance(data.get("nodes"), list):
        return None
    links = [link for link in data.get("links") or [] if isinstance(link, dict) or _is_link_row(link)]
    origins = dict(map(_link_origin, links))
    graph: Graph = {}
    for node in data["nodes"]:
        if not isinstance(node, dict) or "type" not in node:
            continue
        values = node.get("widgets_values")
        names = _WIDGETS.get(node["type"], ())
        inputs: dict[str, Any] = dict(zip(names, values)) if isinstance(values, list) else {}
        for slot in node.get("inputs") or []:
            if isinstance(slot, dict) and slot.get("link") in origins:
                inputs[slot["name"]] = origins[slot["link"]]
        graph[str(node.get("id"))] = {"class_type": node["type"], "inputs": inputs}
    return graph or None


def _link_origin(link: list[Any] | dict[str, Any]) -> tuple[Any, list[Any]]:
    """link id -> [origin node id, origin slot]; the newer workflow schema writes links as objects."""
    if isinstance(link, dict):
        return link.get("id"), [str(link.get("origin_id")), link.get("origin_slot")]
    return link[0], [str(link[1]), link[2]]


def _import_graph(graph: Graph, raw: str) -> ImportedMetadata:
    samplers = sorted((key for key, node in graph.items() if node["class_type"] in _SAMPLER_CLASSES), key=_node_order)
    fields: dict[str, Any] = {}
    unmapped: dict[str, Any] = {}
    if not samplers:
        unmapped["nodes"] = sorted({node["class_type"] for node in graph.values()} - _PLUMBING)
        return ImportedMetadata("comfyui", fields, unmapped, raw)
    main = _first_pass(graph, samplers)
    used = _read_sampler(graph, main, fields, unmapped)
    if len(samplers) > 1:
        unmapped["other_samplers"] = [graph[key]["inputs"] for key in samplers if key != main]
    others = sorted({graph[key]["class_type"] for key in graph.keys() - used} - _PLUMBING - set(_SAMPLER_CLASSES))
    if others:
        unmapped["nodes"] = others
    return ImportedMetadata("comfyui", fields, unmapped, raw)


def _node_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isdigit() else (1 << 62, key)


def _first_pass(graph: Graph, samplers: list[str]) -> str:
    """The sampler that starts from an empty latent; later ones are hires or refiner passes."""
    for key in samplers:
        latent = _source(graph, graph[key]["inputs"].get("latent_image"))
        if latent and graph[latent]["class_type"] in _EMPTY_LATENTS:
            return key
    return samplers[0]


def _source(graph: Graph, link: Any) -> str | None:
    """The node id a `[node_id, slot]` input points at, if it is in the graph."""
    if isinstance(link, list) and link and str(link[0]) in graph:
        return str(link[0])
    return None


def _read_sampler(graph: Graph, key: str, fields: dict[str, Any], unmapped: dict[str, Any]) -> set[str]:
    """Fill fields from the sampler and the nodes it reads from; returns the ids it used."""
    inputs = graph[key]["inputs"]
    used = {key}
    seed = inputs.get("seed", inputs.get("noise_seed"))
    if not convert_into(fields, "seed", seed, whole_number) and seed is not None:
        unmapped["seed"] = seed
    convert_into(fields, "steps", inputs.get("steps"), whole_number)
    convert_into(fields, "cfg_scale", inputs.get("cfg"), float)
    sampler_fields, sampler_unmapped = map_sampler(
        inputs.get("sampler_name"), inputs.get("scheduler"), COMFY_SAMPLERS, COMFY_SCHEDULERS
    )
    fields.update(sampler_fields)
    unmapped.update(sampler_unmapped)
    for name, field_name in (("positive", "prompt"), ("negative", "negative_prompt")):
        text, text_node = _conditioning_text(graph, inputs.get(name), name)
        used |= text_node
        if text is not None:
            fields[field_name] = text
        if name == "positive":
            used |= _read_clip_skip(graph, text_node, fields)
    used |= _read_model(graph, inputs.get("model"), fields, unmapped)
    used |= _read_latent(graph, inputs.get("latent_image"), inputs.get("denoise"), fields, unmapped)
    return used


def _conditioning_text(graph: Graph, link: Any, side: str) -> tuple[str | None, set[str]]:
    """The prompt text a conditioning input comes from, and the id of the node holding it.

    Nodes passed on the way (ControlNet, area conditioning...) are not counted as read, so they
    show up in `unmapped`.
    """
    seen: set[str] = set()
    node_id = _source(graph, link)
    while node_id is not None and node_id not in seen and len(seen) < _MAX_HOPS:
        seen.add(node_id)
        inputs = graph[node_id]["inputs"]
        text = next((inputs[name] for name in _TEXT_INPUTS if name in inputs), None)
        if isinstance(text, str):
            return text, {node_id}
        node_id = _source(graph, text) or _source(graph, _upstream_conditioning(inputs, side))
    return None, set()


def _read_model(graph: Graph, link: Any, fields: dict[str, Any], unmapped: dict[str, Any]) -> set[str]:
    """Checkpoint name and LoRAs on the way from the sampler's model input to its loader."""
    path: set[str] = set()
    loras: list[dict[str, Any]] = []
    node_id = _source(graph, link)
    while node_id is not None and node_id not in path and len(path) < _MAX_HOPS:
        path.add(node_id)
        inputs = graph[node_id]["inputs"]
        if isinstance(inputs.get("ckpt_name"), str):
            fields["model"] = inputs["ckpt_name"]
            break
        if "lora_name" in inputs:
            loras.append({key: inputs.get(key) for key in ("lora_name", "strength_model", "strength_clip")})
        node_id = _source(graph, inputs.get("model"))
    if loras:
        unmapped["loras"] = loras
    return path


def _read_clip_skip(graph: Graph, text_nodes: set[str], fields: dict[str, Any]) -> set[str]:
    """ComfyUI's CLIPSetLastLayer -2 on the text encoder's CLIP path is A1111's Clip skip 2."""
    seen: set[str] = set()
    node_id = _source(graph, graph[next(iter(text_nodes))]["inputs"].get("clip")) if text_nodes else None
    while node_id is not None and node_id not in seen and len(seen) < _MAX_HOPS:
        seen.add(node_id)
        node = graph[node_id]
        if node["class_type"] == "CLIPSetLastLayer":
            layer = node["inputs"].get("stop_at_clip_layer")
            convert_into(fields, "clip_skip", layer, lambda value: -whole_number(value))
            return {node_id}
        node_id = _source(graph, node["inputs"].get("clip"))
    return set()


def _read_latent(
    graph: Graph, link: Any, denoise: Any, fields: dict[str, Any], unmapped: dict[str, Any]
) -> set[str]:
    node_id = _source(graph, link)
    if node_id is None:
        return set()
    node = graph[node_id]
    if node["class_type"] in _EMPTY_LATENTS:
        for name in ("width", "height", "batch_size"):
            convert_into(fields, name, node["inputs"].get(name), whole_number)
        return {node_id}
    # Any other latent (VAEEncode of a loaded image, an upscale): an img2img pass Easel cannot rebuild.
    unmapped["latent_image"] = node["class_type"]
    convert_into(fields, "denoising_strength", denoise, float)
    return {node_id}


def _upstream_conditioning(inputs: dict[str, Any], side: str) -> Any:
    """The input a conditioning node (ControlNetApplyAdvanced, ConditioningCombine...) passes on."""
    if side in inputs:
        return inputs[side]
    return next((value for name, value in inputs.items() if name.startswith("conditioning")), None)


def _dict_or_empty(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_link_row(link: Any) -> bool:
    """[id, origin node, origin slot, target node, target slot, type], as the UI format writes links."""
    return isinstance(link, list) and len(link) > 2
