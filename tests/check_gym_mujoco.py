"""check_gym_mujoco.py — rldt's MuJoCo locomotion tasks beside Gymnasium's own *-v5 envs.

Parity (the default): for each task, episodes start from the qpos/qvel of a seeded Gymnasium reset, set in
both (`rldt envstep`'s `set` command, Gymnasium's reset already holds it), and step the same float32 action
sequence until Gymnasium's episode ends (termination, or truncation after 1000 steps). At every step the
observation, reward, terminated and truncated flags must agree: |rldt - gymnasium| <= --tol (1e-5) on every
observation entry and the reward. rldt's numbers are float32 (printed exactly); Gymnasium's are float64, so
the report also says how far rldt is from Gymnasium's values rounded to float32 (0 when the physics is bit
for bit the same). rldt never sets truncated together with terminated (Gymnasium's TimeLimit may), so
truncated is compared where Gymnasium did not terminate.

Bench (--bench TASK): Gymnasium's own vector envs (SyncVectorEnv, AsyncVectorEnv) stepping N envs of TASK
(an rldt task, or any Gymnasium id) with random actions, printed as env steps/s (the median of --repeats
timed windows); bench/bench_env.c runs this beside its own numbers.

Usage: python check_gym_mujoco.py --rldt PATH_TO_rldt [--tasks hopper,ant] [--episodes 6] [--tol 1e-5]
       python check_gym_mujoco.py --bench hopper|Pendulum-v1 [--envs 64] [--seconds 1] [--repeats 1] [--modes sync,async]
Exit status: 0 parity holds, 1 it does not (each difference is printed), 2 bad usage."""
import argparse
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np

GYM_IDS = {"hopper": "Hopper-v5", "walker2d": "Walker2d-v5", "halfcheetah": "HalfCheetah-v5", "ant": "Ant-v5"}
# The episodes' policies: uniform random actions of a scale (full-range ones make the hoppers fall within
# tens of steps), or a PD controller holding the actuated joints at 0 plus uniform noise of a scale (it
# keeps the hopper up for all 1000 steps). Halfcheetah never terminates; ant mostly runs 1000 steps.
POLICIES = [("random", 1.0), ("random", 0.3), ("random", 0.1), ("pd", 0.3), ("pd", 0.1), ("random", 0.0)]


def act(policy, scale, data, nu, rng):
    noise = scale * rng.uniform(-1.0, 1.0, size=nu)
    if policy == "pd":  # the actuated joints are the last nu entries of qpos and qvel in all four models
        noise += -2.0 * data.qpos[-nu:] - 0.2 * data.qvel[-nu:]
    return np.clip(noise, -1.0, 1.0).astype(np.float32)


def fmt(values, digits):
    return " ".join(f"{float(v):.{digits}g}" for v in values)


def floats32(words):
    """rldt's printed float32 values, exactly (9 digits identify a float32, not its float64 expansion)."""
    return np.array(words, dtype=np.float64).astype(np.float32)


def rldt_session(rldt, task, commands):
    """Runs `rldt envstep` on the command lines and returns its answer lines."""
    proc = subprocess.run([rldt, "envstep", f"env.name={task}"], input="\n".join(commands) + "\n",
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        sys.exit(f"check_gym_mujoco: rldt envstep env.name={task} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout.splitlines()


def gym_episode(env, seed, policy, scale):
    """One Gymnasium episode: its start state and first observation, then per step the action, observation,
    reward and flags, until it ends."""
    obs0, _ = env.reset(seed=seed)
    data = env.unwrapped.data
    state = np.concatenate([data.qpos, data.qvel])
    rng = np.random.default_rng(seed)
    steps = []
    while True:
        a = act(policy, scale, data, env.action_space.shape[0], rng)
        obs, reward, term, trunc, _ = env.step(a)
        steps.append((a, obs, reward, term, trunc))
        if term or trunc:
            return state, obs0, steps


def parity(task, rldt, episodes, tol):
    env = gym.make(GYM_IDS[task])
    runs, commands = [], []
    for e in range(episodes):
        policy, scale = POLICIES[e % len(POLICIES)]
        state, obs0, steps = gym_episode(env, 1000 + e, policy, scale)
        runs.append((policy, scale, obs0, steps))
        commands.append("set " + fmt(state, 17))
        commands += ["step " + fmt(s[0], 9) for s in steps]
    env.close()
    lines = iter(rldt_session(rldt, task, commands))

    worst = {"obs": 0.0, "reward": 0.0, "obs_f32": 0.0, "reward_f32": 0.0}
    failures = 0

    def compare(kind, mine, theirs, where):
        nonlocal failures
        mine, theirs = np.asarray(mine, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
        diff = float(np.max(np.abs(mine - theirs)))
        worst[kind] = max(worst[kind], diff)
        worst[kind + "_f32"] = max(worst[kind + "_f32"], float(np.max(np.abs(mine - theirs.astype(np.float32)))))
        if not diff <= tol or mine.shape != theirs.shape:
            failures += 1
            if failures <= 10:
                print(f"  {task} {where}: {kind} differs by {diff:.3g} (rldt {mine.tolist()}, gymnasium {theirs.tolist()})")

    for e, (policy, scale, obs0, steps) in enumerate(runs):
        compare("obs", floats32(next(lines).split()[1:]), obs0, f"episode {e} start")
        for t, (_, obs, reward, term, trunc) in enumerate(steps):
            got = next(lines).split()
            r_term, r_trunc = got[2] == "1", got[3] == "1"
            compare("obs", floats32(got[5:]), obs, f"episode {e} step {t + 1}")
            compare("reward", floats32(got[1:2]), [reward], f"episode {e} step {t + 1}")
            if r_term != term or (not term and r_trunc != trunc):
                failures += 1
                print(f"  {task} episode {e} step {t + 1}: rldt terminated={r_term} truncated={r_trunc}, "
                      f"gymnasium terminated={term} truncated={trunc}")
    ok = failures == 0
    total = sum(len(r[3]) for r in runs)
    print(f"{task:12s} {GYM_IDS[task]:15s} {'ok  ' if ok else 'FAIL'} {episodes} episodes, {total} steps; "
          f"max |rldt - gymnasium| obs {worst['obs']:.3g}, reward {worst['reward']:.3g}; "
          f"against float32(gymnasium): obs {worst['obs_f32']:.3g}, reward {worst['reward_f32']:.3g}")
    for policy, scale, _, steps in runs:
        print(f"    {policy} {scale:g}: {len(steps)} steps, {'terminated' if steps[-1][3] else 'truncated'}")
    return ok


def bench(task, n_envs, seconds, repeats, modes):
    """Env steps/s of Gymnasium's vector envs on TASK (an rldt task or a Gymnasium id): SyncVectorEnv (the
    envs in turn, one process) and AsyncVectorEnv (one worker process per env, shared memory), each stepping
    random actions in `repeats` windows of `seconds` after a short warm-up; one line "sync=RATE async=RATE"
    of the modes asked for, each the median over the windows (bench/bench_env.c reads it)."""
    rates = []
    for mode in modes:
        envs = gym.make_vec(GYM_IDS.get(task, task), num_envs=n_envs, vectorization_mode=mode)
        envs.reset(seed=0)
        acts = np.random.default_rng(0).uniform(-1, 1, size=(16,) + envs.action_space.shape).astype(np.float32)
        for i in range(5):
            envs.step(acts[i])
        windows, i = [], 0
        for _ in range(repeats):
            steps, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                envs.step(acts[i % 16])
                steps, i = steps + n_envs, i + 1
            windows.append(steps / (time.perf_counter() - t0))
        rates.append(f"{mode}={float(np.median(windows)):.0f}")
        envs.close()
    print(" ".join(rates))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rldt", help="the rldt binary (parity)")
    ap.add_argument("--tasks", default=",".join(GYM_IDS))
    ap.add_argument("--episodes", type=int, default=len(POLICIES))
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--bench", metavar="TASK")
    ap.add_argument("--envs", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--modes", default="sync,async")
    args = ap.parse_args()
    if args.bench:
        bench(args.bench, args.envs, args.seconds, args.repeats, args.modes.split(","))
        return 0
    if not args.rldt:
        ap.error("--rldt is required for the parity check")
    tasks = args.tasks.split(",")
    for t in tasks:
        if t not in GYM_IDS:
            ap.error(f"unknown task {t} (known: {', '.join(GYM_IDS)})")
    print(f"gymnasium {gym.__version__}, mujoco {__import__('mujoco').__version__}, numpy {np.__version__}, tolerance {args.tol:g}")
    ok = all([parity(t, args.rldt, args.episodes, args.tol) for t in tasks])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
