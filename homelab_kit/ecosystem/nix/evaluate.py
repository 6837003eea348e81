"""Import hosts, services and backups from a Nix configuration with the real nix evaluator.

Nix extracts only plain data (a small extractor function applied inside the evaluation, so derivations
and functions in a NixOS config never reach `--json`); the mapping to lab.toml entries is pure and
lives in mapping.py. Evaluation runs locally or on a lab host through its Runner, with argv lists:
the user's expression travels as one `--arg` value, never spliced into our Nix code.

    data = evaluate("/etc/nixos#nixosConfigurations")        # a flake attribute: `nix eval`
    data = evaluate("nixosConfigurations", file="hosts.nix")  # an attribute of a file
    result = from_eval(data)                                  # ImportResult: tables + warnings
    print(to_toml(result))                                    # or merge_toml(text, result)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import HomelabError
from .mapping import ImportResult, from_eval
from .toml import merge_toml, to_toml

if TYPE_CHECKING:
    from ...transport.runner import Runner

EVAL_TIMEOUT = 300.0
FEATURES = "nix-command flakes"

# Applied to the user's value: accepts a flake (nixosConfigurations), one nixosSystem result, one
# config attrset, or an attrset of either; returns JSON-safe data only (tryEval guards each leaf).
EXTRACT = r"""
target:
let
  try = v: let r = builtins.tryEval v; in if r.success then r.value else null;
  isDrv = v: try ((v.type or null) == "derivation") == true;
  threw = v: !(builtins.tryEval v).success;
  plain = d: v0:
    let v = try v0; t = builtins.typeOf v; in
    if threw v0 then { __threw = true; }
    else if t == "string" || t == "int" || t == "bool" || t == "float" || t == "null" then v
    else if t == "path" then toString v
    else if d <= 0 then null
    else if t == "list" then map (plain (d - 1)) v
    else if t == "set" then (if isDrv v then null else builtins.mapAttrs (n: plain (d - 1)) v)
    else null;
  get = v: names: builtins.foldl'
    (acc: n: if builtins.isAttrs acc && acc ? ${n} then try acc.${n} else null) (try v) names;
  attrs = v: if builtins.isAttrs v then v else { };
  pickFrom = v: names: builtins.listToAttrs (map (n: { name = n; value = plain 3 (get v [ n ]); })
    (builtins.filter (n: (attrs v) ? ${n}) names));
  serviceNames = hl: builtins.attrNames (attrs (get hl [ "services" ]))
    ++ builtins.filter (n: builtins.isAttrs (get hl [ n ]) && (get hl [ n ]) ? enable) (builtins.attrNames hl);
  host = name: cfg:
    let
      hl = attrs (get cfg [ "homelab" ]);
      nixosServices = attrs (get cfg [ "services" ]);
    in {
      attrName = name;
      hostName = plain 1 (get cfg [ "networking" "hostName" ]);
      domain = plain 1 (get cfg [ "networking" "domain" ]);
      deployment = pickFrom (get cfg [ "deployment" ]) [ "targetHost" "targetUser" "targetPort" "tags" ];
      sshPorts = plain 2 (get cfg [ "services" "openssh" "ports" ]);
      interfaces = plain 5 (get cfg [ "networking" "interfaces" ]);
      postgresql = let pg = get cfg [ "services" "postgresql" ]; in
        if get pg [ "enable" ] == true then plain 1 (get pg [ "package" "version" ]) else null;
      homelab = plain 6 hl;
      nixos = builtins.listToAttrs (map (n: {
        name = n;
        value = pickFrom (get nixosServices [ n ]) [ "port" "user" "group" "dataDir" "stateDir" ];
      }) (builtins.filter (n: nixosServices ? ${n}) (serviceNames hl)));
      restic = builtins.mapAttrs (n: b: pickFrom b [
        "repository" "repositoryFile" "paths" "exclude" "passwordFile" "environmentFile"
        "pruneOpts" "timerConfig" "extraBackupArgs" "backupPrepareCommand"
      ]) (attrs (get cfg [ "services" "restic" "backups" ]));
    };
  configOf = c: if builtins.isAttrs c && c ? config && builtins.isAttrs c.config then c.config else c;
  looksLikeConfig = v: v ? homelab || v ? networking || v ? services;
  hosts =
    if target ? nixosConfigurations then builtins.mapAttrs (n: c: host n (configOf c)) target.nixosConfigurations
    else if target ? config && builtins.isAttrs target.config then { "" = host null target.config; }
    else if looksLikeConfig target then { "" = host null target; }
    else builtins.mapAttrs (n: c: host n (configOf c)) target;
in { format = "homelab-kit-nix/1"; inherit hosts; }
"""

# nix-instantiate wrapper: evaluate `target` (a user expression via --arg) or `attr` of `file`.
INSTANTIATE = r"""
{ target ? null, file ? null, attr ? "" }:
let
  path = if builtins.substring 0 1 file == "/" then /. + file else ./. + "/${file}";
  imported = let v = import path; in if builtins.isFunction v then v { } else v;
  parts = builtins.filter (p: builtins.isString p && p != "") (builtins.split "\\." attr);
  step = acc: p: if builtins.isAttrs acc && acc ? ${p} then acc.${p}
    else throw "attribute path '${attr}' not found in ${file} (no '${p}')";
  value = if file == null then target else builtins.foldl' step imported parts;
in (EXTRACT) value
"""

FLAKE_RE = re.compile(r"^[^\s(){}\[\];=]*#[^\s(){}\[\];=]*$")


class NixError(HomelabError):
    """nix is missing, or evaluating the configuration failed (the message carries nix's own)."""


@dataclass(frozen=True)
class NixSource:
    """What to evaluate: a flake attribute, an attribute path of a file, or a Nix expression."""

    target: str
    file: str | None = None

    @property
    def is_flake(self) -> bool:
        return self.file is None and bool(FLAKE_RE.match(self.target))

    @property
    def flake(self) -> str | None:
        """The flake reference (before '#'), recorded on imported hosts for deploys."""
        return (self.target.split("#", 1)[0] or ".") if self.is_flake else None

    @property
    def last_attr(self) -> str | None:
        """A name for a single imported config when it has no networking.hostName."""
        path = self.target.split("#", 1)[-1] if self.is_flake else self.target
        if not self.is_flake and self.file is None:
            return None  # an expression: only its networking.hostName can name it
        parts = [p for p in re.split(r"[.#]", path) if p and p != "config"]
        return (
            parts[-1] if parts and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", parts[-1]) else None
        )


def nix_argv(source: NixSource) -> list[str]:
    """The argv that evaluates `source` and prints the extracted JSON (pure, for tests and dry runs)."""
    if source.is_flake:
        return [
            "nix",
            "eval",
            "--json",
            "--extra-experimental-features",
            FEATURES,
            source.target,
            "--apply",
            EXTRACT,
        ]
    expr = INSTANTIATE.replace("EXTRACT", EXTRACT)
    argv = ["nix-instantiate", "--eval", "--strict", "--json", "--readonly-mode", "-E", expr]
    if source.file is None:
        return [*argv, "--arg", "target", source.target]
    return [*argv, "--argstr", "file", source.file, "--argstr", "attr", source.target.strip(".")]


def nix_message(stderr: str) -> str:
    """nix's error as one line: the `error:` text and its location, without code frames."""
    lines = [ln.strip() for ln in stderr.splitlines()]
    start = max((i for i, ln in enumerate(lines) if ln.startswith("error:")), default=None)
    if start is None:
        kept = [ln for ln in lines if ln and not ln.startswith("warning:")]
        return " ".join(kept)[-500:] or "no message"
    out: list[str] = []
    for ln in lines[start:]:
        if not ln or ln.startswith("(use '--show-trace'") or re.match(r"^(\d+\||\|)", ln):
            continue
        out.append(ln.rstrip(":"))
    return "; ".join(out)[:800]


def evaluate(
    target: str,
    *,
    file: str | None = None,
    runner: Runner | None = None,
    timeout: float = EVAL_TIMEOUT,
) -> dict[str, Any]:
    """Evaluate with the real nix (locally, or on a host via its Runner); the extracted data."""
    from ...transport.runner import LocalRunner

    source = NixSource(target, file)
    run = runner or LocalRunner()
    argv = nix_argv(source)
    result = run.run(argv, timeout=timeout)
    what = f"{file}:{target}" if file else target
    if result.exit_code == 127:
        raise NixError(
            f"{run.host}: `{argv[0]}` not found; install nix (Debian: apt install nix-bin) "
            "or evaluate on a NixOS host with --host NAME"
        )
    if not result.ok:
        raise NixError(f"{run.host}: nix could not evaluate {what}: {nix_message(result.stderr)}")
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise NixError(
            f"{run.host}: nix printed something that is not JSON for {what}: {exc}"
        ) from None
    if not isinstance(data, dict) or data.get("format") != "homelab-kit-nix/1":
        raise NixError(f"{run.host}: unexpected output from nix for {what}")
    data["source"] = {
        "target": target,
        "file": file,
        "flake": source.flake,
        "name": source.last_attr,
        "host": run.host,
    }
    return data


def import_nix(
    target: str, *, file: str | None = None, runner: Runner | None = None
) -> ImportResult:
    """Evaluate and map in one go: the lab.toml entries a Nix configuration declares."""
    data = evaluate(target, file=file, runner=runner)
    src = data["source"]
    return from_eval(data, flake=src["flake"], default_name=src["name"])


__all__ = [
    "EXTRACT",
    "ImportResult",
    "NixError",
    "NixSource",
    "evaluate",
    "from_eval",
    "import_nix",
    "merge_toml",
    "nix_argv",
    "nix_message",
    "to_toml",
]
