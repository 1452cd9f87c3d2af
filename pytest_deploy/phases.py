"""One session fixture per phase, declared by name below (phase_p01 ...
phase_p09): each deploys its phase after the one before it, once per run,
under the hosts' run lock; `--no-deploy` skips the work. When a phase has
ended, the early steps of this session's later phases that it allows begin on
their hosts and go on while its checks run (deploy/ahead.py); a phase first
waits for those running on its own hosts."""
from __future__ import annotations

import logging

import pytest

from deploy import handoff
from deploy.phases import Context, Phase, all_phases
from deploy.remote import Pool, RemoteError
from deploy.runlock import RunLockError, take_all
from deploy.runner import PhaseError, PhaseResult, PreconditionError, apply_phase, check_preconditions

from .state import HANDOFF, LOCKED, RESULTS

log = logging.getLogger("deploy")


def needed(session: pytest.Session) -> set[str]:
    """The phases this session's tests ask for (directly or through a later phase)."""
    asked = {name.removeprefix("phase_") for item in session.items for name in getattr(item, "fixturenames", ())
             if name.startswith("phase_")}
    ids = [p.id for p in all_phases()]
    last = max((ids.index(a) for a in asked if a in ids), default=-1)
    return set(ids[:last + 1])


def phase_fixture(phase_id: str):
    """The session fixture `phase_<phase_id>`: that phase applied, with every phase before it."""
    phases = all_phases()
    index = [p.id for p in phases].index(phase_id)
    phase: Phase = phases[index]
    previous = f"phase_{phases[index - 1].id}" if index else None
    following = phases[index + 1:]

    @pytest.fixture(scope="session", name=f"phase_{phase_id}")
    def deployed(request: pytest.FixtureRequest, pool: Pool, deploy_context: Context,
                 record_testsuite_property) -> PhaseResult | None:
        if previous:
            request.getfixturevalue(previous)
        if request.config.getoption("--no-deploy"):
            return None
        if not request.config.stash.get(LOCKED, False):  # once, before the first phase converges anything
            request.config.stash[LOCKED] = True
            try:
                take_all(pool, progress=log.info)
                # every phase's, whatever this session deploys (its first phase already acts on
                # a host the inventory lost), checked before any of it changes a host
                check_preconditions(phases, deploy_context, pool)
            except (RunLockError, RemoteError, PreconditionError) as e:
                pytest.exit(f"deploy: {e}", returncode=3)
        log.info("phase %s: applying", phase.title)
        try:
            wanted = needed(request.session)
            result = apply_phase(phase, deploy_context, pool, progress=log.info,
                                 ahead=[p for p in following if p.id in wanted])
        except PhaseError as e:
            request.config.stash[RESULTS].extend([e.result, *e.result.ahead])
            raise
        request.config.stash[RESULTS].extend([result, *result.ahead])
        record_testsuite_property(f"phase {phase.title} seconds", f"{result.seconds:.1f}")
        if not following:   # the last phase: the cloud is whole, hand it over
            _hand_over(request.config, deploy_context)
        return result

    return deployed


def _hand_over(config: pytest.Config, deploy_context: Context) -> None:
    try:
        files = handoff.write(deploy_context.inventory, deploy_context.secrets)
        summary = handoff.summary(deploy_context.inventory, deploy_context.secrets, files)
    except (handoff.HandoffError, OSError) as e:   # the cloud is fine; the files are not written
        log.warning("handoff files not written: %s", e)
        summary = [f"handoff files not written: {e}"]
    config.stash[HANDOFF] = summary


# One line per phase of deploy.phases.all_phases() (tests/test_markers.py checks the two agree).
phase_p01 = phase_fixture("p01")
phase_p02 = phase_fixture("p02")
phase_p03 = phase_fixture("p03")
phase_p04 = phase_fixture("p04")
phase_p05 = phase_fixture("p05")
phase_p06 = phase_fixture("p06")
phase_p07 = phase_fixture("p07")
phase_p08 = phase_fixture("p08")
phase_p09 = phase_fixture("p09")
