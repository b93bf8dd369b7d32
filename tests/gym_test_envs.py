"""gym_test_envs.py - small Gymnasium envs for the bridge tests (tests/test_gym_bridge.c). The tests name them
as env.name=gym:gym_test_envs:rldt_test/<Name>-v0, which makes the worker import this module (from the
working directory, tests/) and so register them.

  PendulumAt   Gymnasium's own Pendulum-v1 class, whose reset(seed) starts from [th, thdot] = the entry
               str(seed) of the JSON object in starts_file when it has one: the test writes there the states
               rldt's native pendulum resets to, so both step the same physics from the same states.
  DictPoint    a Dict observation {pos (2), vel (3), goal (1)} that is a known function of the step count,
               the reset seed and the action; raises ValueError on an action above raise_above; writes its
               worker's pid into pid_dir (one file per process) for the kill test. Its scripted expert
               (rldt_expert_action) acts [0.25, 0] for two steps, then [0.25, 0.75], which ends the episode
               with success at step 3; with expert_raises it raises RuntimeError instead.
  DictImage    a Dict observation {state (2): [t, base], pixels: uint8 6x5x3 image, a second image pixels2,
               a one-channel gray} where base = seed % 251 and the image is image(t, base) below, so a test can
               check every byte; terminated (with success) at a step t >= 3 whose action[0] > 0.5. Its expert
               acts [0.75] from step 2 on, which ends the episode at step 3.
  ImageObs     a plain uint8 84x84x3 image observation (not a Dict): the bridge must refuse it.
"""
import json
import os

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control.pendulum import PendulumEnv


class PendulumAt(PendulumEnv):
    def __init__(self, starts_file=None, **kwargs):
        super().__init__(**kwargs)
        self.starts = {}
        if starts_file:
            with open(starts_file) as f:
                self.starts = json.load(f)

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        start = self.starts.get(str(seed))
        if start is not None:
            self.state = np.array(start, dtype=np.float64)
            obs = self._get_obs()
        return obs, info


class DictPoint(gym.Env):
    def __init__(self, raise_above=None, pid_dir=None, expert_raises=False):
        self.observation_space = spaces.Dict({
            "pos": spaces.Box(-1e6, 1e6, (2,), np.float64),
            "vel": spaces.Box(-1e6, 1e6, (3,), np.float32),
            "goal": spaces.Box(-1e6, 1e6, (1,), np.float32),
        })
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.raise_above, self.expert_raises = raise_above, expert_raises
        if pid_dir:
            open(os.path.join(pid_dir, str(os.getpid())), "w").close()
        self.t, self.base = 0, 0.0

    def _obs(self, a):
        return {"pos": np.array([self.t, self.base], np.float64), "vel": np.array([a[0], a[1], -1.0], np.float32),
                "goal": np.array([self.base + 0.5], np.float32)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.base = 0, float(seed % 1000)
        return self._obs([0.0, 0.0]), {}

    def step(self, action):
        if self.raise_above is not None and action[0] > self.raise_above:
            raise ValueError("action %g above raise_above %g" % (action[0], self.raise_above))
        self.t += 1
        done = self.t >= 3 and action[1] > 0.5
        return self._obs(action), float(action[0] + self.t), done, False, {"is_success": done}

    def rldt_expert_action(self):
        if self.expert_raises:
            raise RuntimeError("expert failed at step %d" % self.t)
        return np.array([0.25, 0.75 if self.t >= 2 else 0.0], np.float32)


IMAGE_SHAPE = (6, 5, 3)


def image(t, base):
    """DictImage's image at step t of the episode of `base`: pixel [r, c, ch] = (base + 7 t + 11 r + 3 c + ch) % 256."""
    r, c, ch = np.indices(IMAGE_SHAPE)
    return ((base + 7 * t + 11 * r + 3 * c + ch) % 256).astype(np.uint8)


class DictImage(gym.Env):
    def __init__(self):
        self.observation_space = spaces.Dict({
            "state": spaces.Box(-1e6, 1e6, (2,), np.float32),
            "pixels": spaces.Box(0, 255, IMAGE_SHAPE, np.uint8),
            "pixels2": spaces.Box(0, 255, IMAGE_SHAPE, np.uint8),
            "gray": spaces.Box(0, 255, IMAGE_SHAPE[:2] + (1,), np.uint8),
        })
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.t, self.base = 0, 0

    def _obs(self):
        im = image(self.t, self.base)
        return {"state": np.array([self.t, self.base], np.float32), "pixels": im, "pixels2": im[::-1].copy(),
                "gray": im[:, :, :1].copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.base = 0, seed % 251
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        done = self.t >= 3 and action[0] > 0.5
        return self._obs(), float(self.t), done, False, {"is_success": done}

    def rldt_expert_action(self):
        return np.array([0.75 if self.t >= 2 else 0.0], np.float32)


class ImageObs(gym.Env):
    observation_space = spaces.Box(0, 255, (84, 84, 3), np.uint8)
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        return np.zeros((84, 84, 3), np.uint8), {}

    def step(self, action):
        return np.zeros((84, 84, 3), np.uint8), 0.0, False, False, {}


gym.register("rldt_test/PendulumAt-v0", entry_point=PendulumAt, max_episode_steps=200)
gym.register("rldt_test/DictPoint-v0", entry_point=DictPoint, max_episode_steps=6)
gym.register("rldt_test/DictImage-v0", entry_point=DictImage, max_episode_steps=5)
gym.register("rldt_test/ImageObs-v0", entry_point=ImageObs, max_episode_steps=10)
