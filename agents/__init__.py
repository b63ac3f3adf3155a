"""Agents acting in the envs: the CFG agent, RL fine-tuning, stable-baselines3 glue."""

if __name__ != "dis_rl.agents":  # one module, one name (a checkout's folder on sys.path must not shadow others)
    raise ImportError(f"dis-rl's agents are the package dis_rl.agents (import dis_rl.agents); this folder was "
                      f"imported as {__name__!r}")
