"""Env-steps per second of the refinement envs, scalar and vector-native, against their peers.

    python benchmarks/env_throughput.py [--seconds 2] [--sizes 1 64 1024] [--envs NQueensRefine-v0 ...] [--clock cpu]

Actions are random and drawn before timing (a pool cycled through), so the numbers measure the
env, not the sampler. Peers (``pip install -e .[bench]``), measured in the same process with the
same protocol, each line then naming its ratio to them:

- ARCLE's ``RawARCEnv`` (a scalar Gymnasium env over ARC grids): every line's ``Nx ARCLE``.
- Jumanji's ``Sudoku-v0`` under ``jax.jit(jax.vmap(step))`` with ``AutoResetWrapper`` at the same
  batch sizes (compilation and warm-up excluded): the Sudoku lines' ``Nx Jumanji``.
- JaxARC's ``Environment`` (JAX ARC grids, 30x30, 35 operations on a selection mask) under
  ``jax.jit(jax.vmap(step))`` with an automatic reset at the episode's end, at the same batch sizes:
  the ARC lines' ``Nx JaxARC``. Its tasks are built from random arrays (a stacked ``JaxArcTask``
  buffer of 16 tasks), so it needs no dataset; its step cost does not depend on the grids' content.

Scalar envs go through ``gym.make``, as SB3's DummyVecEnv and most agents use them. With
``--clock cpu`` a rate is steps per CPU second of this process (all its threads: JAX's included),
steadier than wall time when other jobs share the cores.
"""

from __future__ import annotations

import argparse
import time
import warnings

import gymnasium as gym

from dis_rl import envs

POOL = 16  # distinct pre-drawn actions (or action batches) cycled through


CLOCK = time.perf_counter  # --clock cpu: time.process_time (steady numbers on a shared machine)


def _rate(step, reset, seconds: float, per_call: int, finish=None) -> float:
    reset()
    calls, start = 0, CLOCK()
    while (elapsed := CLOCK() - start) < seconds:
        for _ in range(8):
            step(calls)
            calls += 1
    if finish is not None:  # asynchronous dispatch (JAX): wait for the last step, then stop the clock
        finish()
        elapsed = CLOCK() - start
    return calls * per_call / elapsed


def _episodic_rate(env, reset, seconds: float) -> float:
    """Steps/s of one scalar env with pre-drawn random actions, resetting at episode ends."""
    env.action_space.seed(0)
    pool = [env.action_space.sample() for _ in range(POOL)]

    def step(i: int) -> None:
        _, _, terminated, truncated, _ = env.step(pool[i % POOL])
        if terminated or truncated:
            env.reset()

    return _rate(step, reset, seconds, 1)


def scalar_rate(env_id: str, mode: str, seconds: float) -> float:
    env = gym.make(env_id, action_mode=mode)
    return _episodic_rate(env, lambda: env.reset(seed=0), seconds)


def vector_rate(env_id: str, mode: str, num_envs: int, seconds: float) -> float:
    venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", action_mode=mode)
    venv.action_space.seed(0)
    pool = [venv.action_space.sample() for _ in range(POOL)]
    return _rate(lambda i: venv.step(pool[i % POOL]), lambda: venv.reset(seed=0), seconds, num_envs)


def arcle_rate(seconds: float) -> float | None:
    try:
        from arcle.envs import RawARCEnv
    except ImportError:
        return None
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # ARCLE's trial counter overflows
    env = RawARCEnv()
    return _episodic_rate(env, env.reset, seconds)


def jumanji_sudoku_rate(num_envs: int, seconds: float) -> float | None:
    """Jumanji's Sudoku-v0, ``jit(vmap(step))`` over ``num_envs`` boards with automatic resets."""
    try:
        import jax
        import jumanji
        from jumanji.wrappers import AutoResetWrapper
    except ImportError:
        return None
    env = AutoResetWrapper(jumanji.make("Sudoku-v0"))
    state, timestep = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), num_envs))
    step = jax.jit(jax.vmap(env.step))
    high = env.action_spec.num_values
    pool = [jax.random.randint(jax.random.PRNGKey(i), (num_envs, 3), 0, high) for i in range(POOL)]
    box = {"state": step(state, pool[0])[0]}  # compiles
    jax.block_until_ready(box["state"])

    def one(i: int) -> None:
        box["state"], _ = step(box["state"], pool[i % POOL])

    return _rate(one, lambda: None, seconds, num_envs, finish=lambda: jax.block_until_ready(box["state"]))


def jaxarc_rate(num_envs: int, seconds: float) -> float | None:
    """JaxARC's ``Environment.step`` under ``jit(vmap(...))`` over ``num_envs`` episodes, each reset
    (from its state's key) when its step ends it, as Jumanji's ``AutoResetWrapper`` does; random
    (operation, selection) actions. stoa's ``AutoResetWrapper`` expects ``state.rng_key``, which
    JaxARC's state calls ``key``, hence the reset written here."""
    try:
        import jax
        import jax.numpy as jnp
        import numpy as np
        from jaxarc.configs.main_config import JaxArcConfig
        from jaxarc.envs.actions import create_action
        from jaxarc.envs.environment import Environment
        from jaxarc.types import JaxArcTask, StepType
    except ImportError:
        return None
    config = JaxArcConfig()
    data, size, tasks = np.random.default_rng(0), config.dataset.max_grid_height, 16
    pairs = (config.dataset.max_train_pairs, config.dataset.max_test_pairs)

    def task(i: int) -> JaxArcTask:
        def grids(n: int):
            return jnp.asarray(data.integers(0, 10, size=(n, size, size)), dtype=jnp.int32)

        ones = [jnp.ones((n, size, size), dtype=bool) for n in pairs]
        return JaxArcTask(input_grids_examples=grids(pairs[0]), input_masks_examples=ones[0],
                          output_grids_examples=grids(pairs[0]), output_masks_examples=ones[0], num_train_pairs=3,
                          test_input_grids=grids(pairs[1]), test_input_masks=ones[1],
                          true_test_output_grids=grids(pairs[1]), true_test_output_masks=ones[1], num_test_pairs=1,
                          task_index=jnp.int32(i))

    buffer = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *[task(i) for i in range(tasks)])
    env = Environment(config, buffer)

    def auto_step(state, action):
        state, timestep = env.step(state, action)
        fresh, _ = env.reset(jax.random.split(state.key)[0])
        done = timestep.step_type != StepType.MID
        return jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), fresh, state), timestep

    state, _ = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), num_envs))
    step = jax.jit(jax.vmap(auto_step))
    pool = [create_action(jax.random.randint(jax.random.PRNGKey(i), (num_envs,), 0, 35),
                          jax.random.bernoulli(jax.random.PRNGKey(POOL + i), 0.5, (num_envs, size, size)))
            for i in range(POOL)]
    box = {"state": step(state, pool[0])[0]}  # compiles
    jax.block_until_ready(box["state"])

    def one(i: int) -> None:
        box["state"], _ = step(box["state"], pool[i % POOL])

    return _rate(one, lambda: None, seconds, num_envs, finish=lambda: jax.block_until_ready(box["state"]))


def main() -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--seconds", type=float, default=2.0, help="timing window per measurement")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024], help="vector num_envs")
    parser.add_argument("--envs", nargs="+", default=list(envs.ENV_IDS), help="env ids")
    parser.add_argument("--modes", nargs="+", default=["refine", "edit"], help="action modes")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: elapsed time; cpu: this process's CPU time (use when other jobs share the cores)")
    parser.add_argument("--no-peers", action="store_true", help="skip ARCLE, Jumanji and JaxARC")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter

    base = None if args.no_peers else arcle_rate(args.seconds)
    if base is not None:
        print(f"ARCLE RawARCEnv: {base:,.0f} steps/s", flush=True)
    jumanji: dict[int, float] = {}
    if not args.no_peers and "SudokuRefine-v0" in args.envs:
        for n in sorted({1, *args.sizes}):
            rate = jumanji_sudoku_rate(n, args.seconds)
            if rate is None:
                break
            jumanji[n] = rate
            print(f"Jumanji Sudoku-v0 jit+vmap N={n}: {rate:,.0f} steps/s", flush=True)

    jaxarc: dict[int, float] = {}
    if not args.no_peers and "ARCRefine-v0" in args.envs:
        for n in sorted({1, *args.sizes}):
            try:
                rate = jaxarc_rate(n, args.seconds)
            except Exception as err:  # an API change of an optional peer must not stop the benchmark
                print(f"JaxARC: skipped ({type(err).__name__}: {err})", flush=True)
                break
            if rate is None:
                break
            jaxarc[n] = rate
            print(f"JaxARC Environment jit+vmap N={n}: {rate:,.0f} steps/s", flush=True)

    def line(name: str, mode: str, size: int | None, rate: float) -> None:
        ratios = [f"{rate / base:.1f}x ARCLE"] if base else []
        peer = jumanji.get(1 if size is None else size)
        if name == "SudokuRefine-v0" and peer:
            ratios.append(f"{rate / peer:.1f}x Jumanji")
        peer = jaxarc.get(1 if size is None else size)
        if name == "ARCRefine-v0" and peer:
            ratios.append(f"{rate / peer:.1f}x JaxARC")
        where = "scalar" if size is None else f"N={size}"
        tail = f" ({', '.join(ratios)})" if ratios else ""
        print(f"{name} {mode} {where}: {rate:,.0f} steps/s{tail}", flush=True)

    for env_id in args.envs:
        try:
            gym.make(env_id)
        except (ImportError, ModuleNotFoundError) as err:
            print(f"{env_id}: skipped ({err})")
            continue
        for mode in args.modes:
            line(env_id, mode, None, scalar_rate(env_id, mode, args.seconds))
            for n in args.sizes:
                line(env_id, mode, n, vector_rate(env_id, mode, n, args.seconds))


if __name__ == "__main__":
    main()
