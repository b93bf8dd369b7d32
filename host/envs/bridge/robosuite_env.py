"""robosuite_env.py - robosuite tasks as Gymnasium envs for the bridge's worker (env.name=robosuite:<Task>, see
gym_worker.py), and the scripted waypoint experts of Lift and Can.

make(task, kwargs, max_steps, obs_keys) builds robosuite.make(task, **kwargs) for state observations (no
renderer, no cameras) or, when obs_keys names a camera's image (<camera>_image, e.g. agentview_image), with
that camera's observations (an offscreen renderer, use_camera_obs, camera_names [camera]; camera_heights and
camera_widths 84 unless env.kwargs sets them), and with these defaults that env.kwargs may override:
    robots "Panda", controller "BASIC" (robosuite 1.5's default composite controller: OSC_POSE for the arm,
    deltas in [-1, 1] scaled to 5 cm and 0.5 rad a step, and the gripper: -1 open, +1 close), control_freq 20,
    reward_shaping false (sparse: 1 on success), horizon 400 (the step limit; MAX_STEPS > 0 overrides it),
    hard_reset false, seed 0 (robosuite's generator while it builds the model, which draws e.g. Lift's cube
    size: unseeded, every process would get its own).
`controller` names a composite controller or a JSON file for robosuite's load_composite_controller_config;
`controller_configs` (a whole config, as robomimic stores it) takes precedence. Episodes end like rldt's native
tasks: terminated at the first step where env._check_success() holds (info["is_success"]), truncated at the
step limit (robosuite's own `done` is ignored). reset(seed) reseeds robosuite's generator, which places the
objects and perturbs the start pose, so a seed gives the same episode. Images have rows top to bottom, as
rldt's renderer: robosuite 1.5 returns them upside down (OpenGL's row order) unless its macro
IMAGE_CONVENTION is "opencv", which make() sets. Its renderer is EGL unless MUJOCO_GL=osmesa (or glx):
robosuite's macro MUJOCO_GPU_RENDERING sets MUJOCO_GL=egl otherwise.

rldt_info() is what the worker reports beside the sizes: the reward kind, whether an expert exists, and the
env_args robomimic recreates the env from (type 1 = robosuite, env_kwargs as passed to robosuite.make).

The experts (rldt_expert_action) are waypoint scripts on the observation: the object's pose, the end effector's
position and the gripper's opening; their phase is kept per episode. Lift: above the cube, down, close,
lift. Can: above the can, down, close, lift, carry over its bin (the task's target placement), lower, open.
"""
import json
import logging
import sys

import gymnasium as gym
import numpy as np
from gymnasium import spaces

DEFAULT_OBS_KEYS = "robot0_eef_pos,robot0_eef_quat,robot0_gripper_qpos,object-state"
DEFAULTS = {"robots": "Panda", "control_freq": 20, "reward_shaping": False, "horizon": 400,
            "hard_reset": False,  # a hard reset reloads the model: 0.35 s a reset instead of milliseconds
            "seed": 0}  # what robosuite draws when it builds the model (Lift's cube size): the same in every process
FIXED = {"has_renderer": False, "use_object_obs": True, "ignore_done": True}  # and the camera settings (rendering())
CAMERA_SIZE = 84  # camera_heights and camera_widths unless env.kwargs sets them
IMAGE_SUFFIX = "_image"  # robosuite's key of a camera's RGB image: <camera>_image
ROBOMIMIC_ROBOSUITE_TYPE = 1
ALIASES = {"Can": "PickPlaceCan"}  # robomimic's short names


def make(task, kwargs, max_steps, obs_keys=()):
    """The env of robosuite:<task> (ALIASES resolved) with the step limit max_steps (0: the horizon), observing
    the cameras whose image keys obs_keys names."""
    cameras = [k[:-len(IMAGE_SUFFIX)] for k in obs_keys if k.endswith(IMAGE_SUFFIX)]
    env = RobosuiteEnv(ALIASES.get(task, task), cameras=cameras, **kwargs)
    limit = max_steps if max_steps > 0 else env.horizon
    env.spec = gym.envs.registration.EnvSpec("robosuite-%s" % task, entry_point=RobosuiteEnv, max_episode_steps=limit)
    return gym.wrappers.TimeLimit(env, limit)


def rendering(cameras):
    """The settings the bridge imposes beside FIXED: an offscreen renderer and camera observations for `cameras`,
    else neither."""
    if not cameras:
        return {"has_offscreen_renderer": False, "use_camera_obs": False}
    return {"has_offscreen_renderer": True, "use_camera_obs": True, "camera_names": list(cameras)}


class RobosuiteEnv(gym.Env):
    def __init__(self, task, controller="BASIC", cameras=(), **kwargs):
        # robosuite logs its set-up (optional packages it lacks, each controller file it loads) as warnings and
        # infos on every start of every worker: keep its errors only
        logging.getLogger("robosuite_logs").addFilter(lambda record: record.levelno >= logging.ERROR)
        try:
            import robosuite
            from robosuite import macros
            from robosuite.controllers import load_composite_controller_config
        except ImportError as e:
            raise ImportError("robosuite cannot be imported by %s (%s): scripts/install-robosuite.sh makes a venv with it, "
                              ".deps/robosuite-venv, the default env.python of robosuite: tasks" % (sys.executable, e)) from e
        kw = dict(DEFAULTS, **kwargs)
        robots = kw["robots"]
        if "controller_configs" not in kw:
            kw["controller_configs"] = load_composite_controller_config(
                controller=controller, robot=robots if isinstance(robots, str) else robots[0])
        imposed = dict(FIXED, **rendering(cameras))
        clashes = [k for k in imposed if k in kwargs and kwargs[k] != imposed[k]]
        if clashes:
            raise ValueError("env.kwargs %s: the bridge sets %s (camera observations come on when env.obs_keys names a "
                             "camera's image key, e.g. agentview_image)"
                             % (", ".join(clashes), ", ".join("%s=%s" % (k, imposed[k]) for k in clashes)))
        kw.update(imposed)
        if cameras:
            kw.setdefault("camera_heights", CAMERA_SIZE)
            kw.setdefault("camera_widths", CAMERA_SIZE)
            macros.IMAGE_CONVENTION = "opencv"  # rows top to bottom (robosuite's default, "opengl", is bottom up)
        self.task, self.horizon, self.sparse = task, int(kw["horizon"]), not kw["reward_shaping"]
        self.env = robosuite.make(task, **kw)
        self.make_kwargs = kw
        self.version = robosuite.__version__
        ob = self.env.reset()
        self.observation_space = spaces.Dict({k: space_of(np.asarray(v)) for k, v in ob.items()})
        low, high = self.env.action_spec
        self.action_space = spaces.Box(np.asarray(low, np.float32), np.asarray(high, np.float32), dtype=np.float32)
        self.expert = EXPERTS.get(task)
        self.ob, self.phase = ob, None

    def rldt_info(self):
        """What the worker reports beside the sizes (JSON values; numpy arrays in the kwargs become lists)."""
        kwargs = json.loads(json.dumps(self.make_kwargs, default=lambda x: np.asarray(x).tolist()))
        return {"sparse": self.sparse, "expert": self.expert is not None,
                "robomimic": {"env_name": self.task, "type": ROBOMIMIC_ROBOSUITE_TYPE, "env_version": self.version,
                              "env_kwargs": kwargs}}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.env.rng.bit_generator.state = np.random.default_rng(seed).bit_generator.state
        self.ob, self.phase = self.env.reset(), None
        return self.ob, {}

    def step(self, action):
        self.ob, reward, _, info = self.env.step(np.asarray(action, np.float64))
        success = bool(self.env._check_success())
        info["is_success"] = success
        return self.ob, float(reward), success, False, info

    def rldt_expert_action(self):
        """The scripted expert's action for the current observation (no noise)."""
        if self.phase is None:
            self.phase = Phase()
        return self.expert(self.env, self.ob, self.phase)


def space_of(value):
    """The Box of an observation value: images (uint8) in [0, 255], the rest unbounded."""
    if value.dtype == np.uint8:
        return spaces.Box(0, 255, value.shape, np.uint8)
    return spaces.Box(-np.inf, np.inf, value.shape, value.dtype)


# ------------------------------------------------------------------------------------------------
# the experts: waypoints for the end effector, reached by a proportional step of the OSC_POSE deltas

GAIN = 10.0  # action per metre of error (an action of 1 moves the target 5 cm)
OPEN, CLOSE = -1.0, 1.0
GRIP_STEPS = 12  # steps the gripper gets to close (or open) before the next waypoint


class Phase:
    """Where an episode's waypoint script is: the waypoint's index and the steps spent on it."""
    def __init__(self):
        self.i, self.t, self.start = 0, 0, None

    def next(self):
        self.i, self.t = self.i + 1, 0


def toward(eef, target, grip, gain=GAIN):
    a = np.zeros(7)
    a[:3] = np.clip(gain * (np.asarray(target) - eef), -1.0, 1.0)
    a[6] = grip
    return a


def pick(ob, phase, obj, above, grasp_dz, lift_to):
    """The shared first waypoints: above the object (open), down to it, close, lift to height lift_to. Returns
    the action, or None once the object is lifted."""
    eef = ob["robot0_eef_pos"]
    if phase.i == 0:  # above the object, open
        target = obj + [0, 0, above]
        if np.linalg.norm(target - eef) < 0.015:
            phase.next()
        return toward(eef, target, OPEN)
    if phase.i == 1:  # down around it
        target = obj + [0, 0, grasp_dz]
        phase.t += 1
        if np.linalg.norm(target - eef) < 0.008 or phase.t > 60:
            phase.next()
        return toward(eef, target, OPEN)
    if phase.i == 2:  # close in place
        phase.t += 1
        if phase.t >= GRIP_STEPS:
            phase.next()
        return toward(eef, eef, CLOSE)
    if phase.i == 3:  # lift
        target = np.array([eef[0], eef[1], lift_to])
        if eef[2] >= lift_to - 0.01:
            phase.next()
            return None
        return toward(eef, target, CLOSE)
    return None


def lift_expert(env, ob, phase):
    cube, eef = ob["cube_pos"], ob["robot0_eef_pos"]
    if phase.start is None:
        phase.start = cube[2]
    a = pick(ob, phase, cube, above=0.08, grasp_dz=0.0, lift_to=phase.start + 0.15)
    return a if a is not None else toward(eef, eef + [0, 0, 0.05], CLOSE)  # keep lifting (success ends the episode)


def can_expert(env, ob, phase):
    can, eef = ob["Can_pos"], ob["robot0_eef_pos"]
    target = env.target_bin_placements[env.object_to_id["can"]]
    carry_z = env.bin2_pos[2] + 0.25
    if phase.i < 4:
        a = pick(ob, phase, can, above=0.1, grasp_dz=0.0, lift_to=carry_z)
        if a is not None:
            return a
    if phase.i == 4:  # over the target placement
        goal = np.array([target[0], target[1], carry_z])
        if np.linalg.norm(goal[:2] - eef[:2]) < 0.01:
            phase.next()
        return toward(eef, goal, CLOSE)
    if phase.i == 5:  # lower into the bin
        goal = np.array([target[0], target[1], env.bin2_pos[2] + 0.12])
        if np.linalg.norm(goal - eef) < 0.01:
            phase.next()
        return toward(eef, goal, CLOSE)
    return toward(eef, eef, OPEN)  # release and stay


EXPERTS = {"Lift": lift_expert, "PickPlaceCan": can_expert}


def main():
    """python robosuite_env.py TASK [EPISODES [NOISE]]: the scripted expert's success rate over episodes seeded
    0 .. EPISODES-1 (each to its end: unlike `rldt collect`, which keeps the first episodes to finish), with
    Gaussian action noise of std NOISE (rldt collect's default, 0.05)."""
    import time
    task, episodes = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    noise = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
    env, rng = make(task, {}, 0), np.random.default_rng(0)
    wins, lengths, t0 = 0, [], time.time()
    for ep in range(episodes):
        env.reset(seed=ep)
        for t in range(env.spec.max_episode_steps):
            action = env.unwrapped.rldt_expert_action() + noise * rng.standard_normal(env.action_space.shape)
            _, _, terminated, truncated, _ = env.step(np.clip(action, -1, 1))
            if terminated or truncated:
                break
        wins += terminated
        lengths.append(t + 1)
    print("%s: scripted expert, noise %g: %d/%d successful (%.0f%%), mean length %.1f steps, %.0f steps/s"
          % (task, noise, wins, episodes, 100.0 * wins / episodes, np.mean(lengths), sum(lengths) / (time.time() - t0)))


if __name__ == "__main__":
    main()
