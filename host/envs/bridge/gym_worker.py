"""gym_worker.py - one worker process of rldt's Gymnasium env bridge: it steps a range of Gymnasium envs
for the C host (host/envs/bridge/bridge.c, which starts it; see bridge.h for the whole protocol).

    python gym_worker.py FD PARENT_PID WORKER FIRST COUNT ID KWARGS_JSON OBS_KEYS MAX_STEPS

FD is the shared memory file. The host wrote its layout: a header (sizes and the offsets of the per-env
arrays) and one block per worker, mirrored below with ctypes; their sizes are checked against the header.
The worker makes envs FIRST .. FIRST+COUNT-1 with gymnasium.make(ID, **KWARGS) (MAX_STEPS > 0 is passed as
max_episode_steps) - or, for an ID robosuite:<Task>, with robosuite_env.make beside this file - reports their
spec in its block (and, in `info`, a JSON object: the reward kind, whether the envs have a scripted expert, the
env_args robomimic recreates them from) and posts `done`; then, each time the host posts `go`:
  MAP   the file has grown by the per-env arrays: map them
  RUN   for each own env whose op is set: RESET (env.reset(seed=...)), STEP (env.step; where the episode
        ends - terminated, truncated or the host's limit - its last observation goes to final_obs and the
        env is reset with the next episode's seed) or EXPERT (the scripted expert's action for the current
        observation into action), then clear op
  QUIT  close the envs and exit
An env (its unwrapped object) may define rldt_expert_action() - the scripted expert's noise-free action for
its current observation, which `rldt collect` asks for with EXPERT - and rldt_info(), a dict merged into the
info JSON (robosuite_env.py defines both).
Observations are written in place as float32 (a Box flattened; a Dict flattened from OBS_KEYS, in order;
the one uint8 H x W x 3 image key OBS_KEYS may name goes as bytes to the image arrays), actions read in
place: nothing is pickled. An exception is reported (its traceback and env index) and ends
the worker; so does the death of the host (PR_SET_PDEATHSIG).
"""
import ctypes
import json
import mmap
import os
import signal
import sys
import traceback

CMD_MAP, CMD_RUN, CMD_QUIT = 1, 2, 3
STATUS_OK, STATUS_FAILED, STATUS_REFUSED = 0, 1, 2
OP_STEP, OP_RESET, OP_EXPERT = 1, 2, 3
ROBOSUITE_PREFIX = "robosuite:"
MAGIC = 0x31424752444C52
PR_SET_PDEATHSIG = 1

HEADER_FIELDS = ("magic", "header_bytes", "block_bytes", "block_size", "sem_bytes", "act_max", "error_bytes", "info_bytes",
                 "n", "workers", "op", "limit", "seed", "action", "reward", "terminated", "truncated", "success", "obs",
                 "final_obs", "image", "final_image")


class Header(ctypes.Structure):
    _fields_ = [(f, ctypes.c_uint64) for f in HEADER_FIELDS]


class Refused(Exception):
    """An env the bridge cannot drive (reported without a traceback)."""


def block_type(h):
    class Block(ctypes.Structure):
        _fields_ = [("go", ctypes.c_byte * h.sem_bytes), ("done", ctypes.c_byte * h.sem_bytes), ("cmd", ctypes.c_uint32),
                    ("status", ctypes.c_int32), ("err_env", ctypes.c_int32), ("obs_dim", ctypes.c_int32),
                    ("act_dim", ctypes.c_int32), ("max_steps", ctypes.c_int32), ("image_h", ctypes.c_int32),
                    ("image_w", ctypes.c_int32), ("image_c", ctypes.c_int32), ("act_low", ctypes.c_double * h.act_max),
                    ("act_high", ctypes.c_double * h.act_max), ("error", ctypes.c_char * h.error_bytes),
                    ("info", ctypes.c_char * h.info_bytes)]
    if ctypes.sizeof(Block) != h.block_size:
        raise SystemExit("gym_worker.py: block layout %d bytes, the host's %d: worker and rldt do not match"
                         % (ctypes.sizeof(Block), h.block_size))
    return Block


def observation_layout(space, obs_keys, np, spaces):
    """[(key or None, start, end, shape)] of the flattened observation, its size, and the image key named in
    obs_keys (None: none); refuses what the bridge cannot pass."""
    def is_image(sp):
        return isinstance(sp, spaces.Box) and sp.dtype == np.uint8 and len(sp.shape) == 3

    def flat_size(sp, what):
        if not isinstance(sp, spaces.Box):
            raise Refused("%s is %s: the bridge takes Box observations (or a Dict of them with env.obs_keys)" % (what, sp))
        return int(np.prod(sp.shape, dtype=np.int64))
    if isinstance(space, spaces.Dict):
        if not obs_keys:
            raise Refused("the observation space is a Dict with keys %s: name the ones to use with env.obs_keys"
                          % ", ".join(space.spaces))
        layout, start, images = [], 0, []
        for k in obs_keys:
            if k not in space.spaces:
                raise Refused("env.obs_keys: no key '%s' in the observation (keys: %s)" % (k, ", ".join(space.spaces)))
            sp = space.spaces[k]
            if is_image(sp):
                if sp.shape[2] != 3:
                    raise Refused("observation key '%s' is an image %s: the bridge takes RGB images (H x W x 3)" % (k, sp))
                images.append(k)
                continue
            size = flat_size(sp, "observation key '%s'" % k)
            layout.append((k, start, start + size, sp.shape))
            start += size
        if len(images) > 1:
            raise Refused("env.obs_keys names %d image keys (%s): the bridge takes one" % (len(images), ", ".join(images)))
        if images and not layout:
            raise Refused("env.obs_keys names only the image key %s: name a float key beside it (rldt's observations "
                          "have a low-dimensional part)" % images[0])
        return layout, start, images[0] if images else None
    if obs_keys:
        raise Refused("env.obs_keys is set but the observation space is %s, not a Dict" % space)
    if is_image(space):
        raise Refused("the observation space is an image %s: the bridge takes images as one key of a Dict observation, "
                      "beside float keys (env.obs_keys)" % space)
    size = flat_size(space, "the observation space")
    return [(None, 0, size, space.shape)], size, None


def main():
    fd, ppid, worker, first, count = (int(a) for a in sys.argv[1:6])
    env_id, kwargs_text, obs_keys_text, max_steps = sys.argv[6], sys.argv[7], sys.argv[8], int(sys.argv[9])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != ppid:  # the host ended before prctl
        return 1
    mem = mmap.mmap(fd, os.fstat(fd).st_size)
    h = Header.from_buffer_copy(mem)
    if h.magic != MAGIC:
        raise SystemExit("gym_worker.py: not an rldt bridge memory file")
    blk = block_type(h).from_buffer(mem, h.header_bytes + worker * h.block_bytes)
    sem_wait, sem_post = libc.sem_wait, libc.sem_post
    sem_wait.argtypes = sem_post.argtypes = [ctypes.c_void_p]
    go, done = ctypes.addressof(blk.go), ctypes.addressof(blk.done)

    def wait():
        while sem_wait(go) != 0:
            if ctypes.get_errno() != 4:  # EINTR
                raise OSError(ctypes.get_errno(), "sem_wait")

    def fail(status, index, text):
        blk.error = text.encode("utf-8", "replace")[-(h.error_bytes - 1):]
        blk.err_env, blk.status = index, status
        sem_post(done)
        return 1

    current = first
    try:
        import numpy as np
        import gymnasium as gym
        from gymnasium import spaces
        sys.path.append(os.getcwd())  # "module:Id" ids may name a module in the working directory
        kwargs = json.loads(kwargs_text) if kwargs_text else {}
        if env_id.startswith(ROBOSUITE_PREFIX):
            import robosuite_env  # beside this file
            obs_keys_text = obs_keys_text or robosuite_env.DEFAULT_OBS_KEYS

            def make():
                return robosuite_env.make(env_id[len(ROBOSUITE_PREFIX):], kwargs, max_steps, obs_keys)
        else:
            if max_steps > 0:
                kwargs["max_episode_steps"] = max_steps

            def make():
                return gym.make(env_id, **kwargs)
        obs_keys = [k.strip() for k in obs_keys_text.split(",") if k.strip()]
        envs = []
        for j in range(count):
            current = first + j
            envs.append(make())
        current = first
        env0 = envs[0]
        asp = env0.action_space
        if not isinstance(asp, spaces.Box):
            raise Refused("the action space is %s, not a Box: the bridge drives continuous actions only" % asp)
        layout, obs_dim, image_key = observation_layout(env0.observation_space, obs_keys, np, spaces)
        for j, e in enumerate(envs):
            if e.action_space != asp or e.observation_space != env0.observation_space:
                current = first + j
                raise Refused("its spaces differ from env %d's (same id and kwargs)" % first)
        act_dim = int(np.prod(asp.shape, dtype=np.int64))
        blk.obs_dim, blk.act_dim = obs_dim, act_dim
        image_shape = env0.observation_space.spaces[image_key].shape if image_key else (0, 0, 0)
        blk.image_h, blk.image_w, blk.image_c = image_shape
        limit = env0.spec.max_episode_steps if env0.spec is not None else None
        blk.max_steps = int(limit) if limit else 0
        low, high = np.asarray(asp.low, np.float64).ravel(), np.asarray(asp.high, np.float64).ravel()
        for j in range(min(act_dim, h.act_max)):
            blk.act_low[j], blk.act_high[j] = low[j], high[j]
        # an env may offer a scripted expert (a method rldt_expert_action()) and more facts (rldt_info())
        base = env0.unwrapped
        info = {"expert": hasattr(base, "rldt_expert_action"), "image_key": image_key}
        info.update(base.rldt_info() if hasattr(base, "rldt_info") else {})
        info_text = json.dumps(info).encode()
        if len(info_text) >= h.info_bytes:
            raise Refused("its info (%d bytes of JSON) does not fit the bridge's %d" % (len(info_text), h.info_bytes))
        blk.info = info_text
    except Refused as e:
        return fail(STATUS_REFUSED, current, str(e))
    except Exception:
        return fail(STATUS_REFUSED, current, traceback.format_exc())
    blk.status = STATUS_OK
    sem_post(done)

    try:
        while True:
            wait()
            cmd = blk.cmd
            if cmd == CMD_QUIT:
                for e in envs:
                    e.close()
                return 0
            if cmd == CMD_MAP:
                mem = mmap.mmap(fd, os.fstat(fd).st_size)
                h = Header.from_buffer_copy(mem)
                n = h.n

                def arr(off, dtype, shape):
                    return np.frombuffer(mem, dtype, int(np.prod(shape)), off).reshape(shape)
                op, limit_flag, seed = arr(h.op, np.uint8, n), arr(h.limit, np.uint8, n), arr(h.seed, np.uint64, n)
                action, reward = arr(h.action, np.float32, (n, act_dim)), arr(h.reward, np.float32, n)
                terminated, truncated = arr(h.terminated, np.uint8, n), arr(h.truncated, np.uint8, n)
                success = arr(h.success, np.uint8, n)
                obs, final_obs = arr(h.obs, np.float32, (n, obs_dim)), arr(h.final_obs, np.float32, (n, obs_dim))
                if image_key:
                    image = arr(h.image, np.uint8, (n,) + image_shape)
                    final_image = arr(h.final_image, np.uint8, (n,) + image_shape)
                # views made once: each own env's action in the space's shape, and where each part of its
                # observations goes (the image key's into its own region, as bytes)
                acts = [action[first + j].reshape(asp.shape) for j in range(count)]
                whole = layout[0][0] is None

                def parts(row, image_row):
                    flat = [(key, row[s:e].reshape(shape)) for key, s, e, shape in layout]
                    return flat + ([(image_key, image_row)] if image_key else [])
                obs_parts = [parts(obs[first + j], image[first + j] if image_key else None) for j in range(count)]
                final_parts = [parts(final_obs[first + j], final_image[first + j] if image_key else None) for j in range(count)]

                def put(dst, ob):
                    if whole:
                        dst[0][1][...] = ob
                    else:
                        for key, view in dst:
                            view[...] = ob[key]
            elif cmd == CMD_RUN:
                for j in range(count):
                    i = first + j
                    o = op[i]
                    if not o:
                        continue
                    current, env = i, envs[j]
                    if o == OP_EXPERT:
                        acts[j][...] = env.unwrapped.rldt_expert_action()
                        op[i] = 0
                        continue
                    if o == OP_RESET:
                        ob, _ = env.reset(seed=int(seed[i]))
                    else:
                        ob, r, te, tr, info = env.step(acts[j].astype(asp.dtype))
                        reward[i], terminated[i], truncated[i] = r, te, tr
                        success[i] = bool(info.get("is_success", info.get("success", False)))
                        if te or tr or limit_flag[i]:
                            put(final_parts[j], ob)
                            ob, _ = env.reset(seed=int(seed[i]))
                    put(obs_parts[j], ob)
                    op[i] = 0
            blk.status = STATUS_OK
            sem_post(done)
    except Exception:
        return fail(STATUS_FAILED, current, traceback.format_exc())


if __name__ == "__main__":
    sys.exit(main())
