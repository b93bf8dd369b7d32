/* manip_model.h — the MJCF models of the manipulation tasks (private to host/envs/mujoco/manip.c).
 *
 * Written for rldt and built into the binary as string literals, so that a fresh clone needs no asset file
 * (env.model=PATH loads another file instead; it must have the joints and actuators below). Every task's
 * model is the same scene with one, two or three cubes, and pickplace's also has the bin (bins2's two bins):
 *   table    a plane at z = 0 (the top; the box under it is only drawn)
 *   gripper  the body `hand` on a Cartesian stage: slide joints x, y, z (world coordinates of the point
 *            between the fingertips' centres), gravity compensated; two fingers on slide joints finger_l
 *            and finger_r (0 = closed at the centre, MANIP_TRAVEL = fully open, each), whose inner faces
 *            are 2·q apart; five position servos (x, y, z, finger_l, finger_r), the fingers' force limited
 *            so that a closed grip squeezes a cube with ~MANIP_SQUEEZE N instead of crushing through it
 *   cubes    free bodies cube_a, cube_b, cube_c of side 2·MANIP_HALF, 50 g, friction 1 (fingers 1.5)
 *   bin      four static walls around a square of half side MANIP_BIN_HALF centred at (MANIP_BIN_X,
 *            MANIP_BIN_Y), MANIP_BIN_WALL high; bins2 has two such, bin_a and bin_b, at x = ∓MANIP_BINS2_X
 *   camera   `agentview`, in front of the table (+x) looking down at the workspace: the *_rgb tasks' images
 * Physics: timestep 10 ms, implicitfast integrator, MuJoCo's default (pyramidal) friction cone. */
#ifndef RLDT_ENVS_MUJOCO_MANIP_MODEL_H
#define RLDT_ENVS_MUJOCO_MANIP_MODEL_H

#define MANIP_STR_(x) #x
#define MANIP_STR(x) MANIP_STR_(x)

/* The numbers the task code shares with the model (each written once, here). */
#define MANIP_HALF 0.02     /* cube half side (m) */
#define MANIP_TRAVEL 0.04   /* finger travel (m): opening 0 .. 2·MANIP_TRAVEL */
#define MANIP_XY 0.25       /* hand x, y range ±MANIP_XY */
#define MANIP_Z_LO 0.022    /* hand z range: fingertips 2 mm above the table at the bottom */
#define MANIP_Z_HI 0.3
#define MANIP_SQUEEZE 15    /* finger force limit (N) */
#define MANIP_BIN_X 0.0
#define MANIP_BIN_Y 0.2
#define MANIP_BIN_HALF 0.06 /* inner half side */
#define MANIP_BIN_WALL 0.05 /* wall height */
#define MANIP_BINS2_X 0.1   /* bins2: its bins' centres at x = ±MANIP_BINS2_X */

#define MANIP_XML_HEAD                                                                                                    \
    "<mujoco model=\"rldt_manip\">"                                                                                       \
    "<compiler angle=\"radian\" autolimits=\"true\"/>"                                                                    \
    "<option timestep=\"0.01\" integrator=\"implicitfast\"/>"                                                            \
    "<default><geom friction=\"1 0.005 0.0001\"/></default>"                                                              \
    "<worldbody>"                                                                                                         \
    "<light pos=\"0 0 1.5\" dir=\"0 0 -1\" directional=\"true\"/>"                                                        \
    "<camera name=\"agentview\" pos=\"0.45 0 0.5\" xyaxes=\"0 1 0 -1 0 1\"/>"                                                 \
    "<geom name=\"table\" type=\"plane\" size=\"0.5 0.5 0.01\" rgba=\"0.75 0.65 0.5 1\"/>"                                \
    "<geom name=\"table_body\" type=\"box\" pos=\"0 0 -0.03\" size=\"0.5 0.5 0.03\" contype=\"0\" conaffinity=\"0\""      \
    " rgba=\"0.6 0.5 0.4 1\"/>"                                                                                           \
    "<body name=\"hand\" gravcomp=\"1\">"                                                                                 \
    "<joint name=\"x\" type=\"slide\" axis=\"1 0 0\" range=\"-" MANIP_STR(MANIP_XY) " " MANIP_STR(MANIP_XY) "\""          \
    " damping=\"70\"/>"                                                                                                   \
    "<joint name=\"y\" type=\"slide\" axis=\"0 1 0\" range=\"-" MANIP_STR(MANIP_XY) " " MANIP_STR(MANIP_XY) "\""          \
    " damping=\"70\"/>"                                                                                                   \
    "<joint name=\"z\" type=\"slide\" axis=\"0 0 1\" range=\"" MANIP_STR(MANIP_Z_LO) " " MANIP_STR(MANIP_Z_HI) "\""       \
    " damping=\"70\"/>"                                                                                                   \
    "<inertial pos=\"0 0 0.05\" mass=\"0.5\" diaginertia=\"0.001 0.001 0.001\"/>"                                         \
    "<geom name=\"palm\" type=\"box\" pos=\"0 0 0.035\" size=\"0.015 0.06 0.01\" rgba=\"0.3 0.3 0.35 1\"/>"               \
    "<body name=\"finger_l\" gravcomp=\"1\">"                                                                             \
    "<joint name=\"finger_l\" type=\"slide\" axis=\"0 1 0\" range=\"0 " MANIP_STR(MANIP_TRAVEL) "\" damping=\"50\"/>"     \
    "<geom name=\"finger_l\" type=\"box\" pos=\"0 0.005 0\" size=\"0.012 0.005 0.02\" mass=\"0.05\""                      \
    " friction=\"1.5 0.005 0.0001\" rgba=\"0.2 0.2 0.2 1\"/>"                                                             \
    "</body>"                                                                                                             \
    "<body name=\"finger_r\" gravcomp=\"1\">"                                                                             \
    "<joint name=\"finger_r\" type=\"slide\" axis=\"0 -1 0\" range=\"0 " MANIP_STR(MANIP_TRAVEL) "\" damping=\"50\"/>"    \
    "<geom name=\"finger_r\" type=\"box\" pos=\"0 -0.005 0\" size=\"0.012 0.005 0.02\" mass=\"0.05\""                     \
    " friction=\"1.5 0.005 0.0001\" rgba=\"0.2 0.2 0.2 1\"/>"                                                             \
    "</body>"                                                                                                             \
    "</body>"

#define MANIP_XML_CUBE(name, rgba)                                                                                        \
    "<body name=\"" name "\" pos=\"0 0 " MANIP_STR(MANIP_HALF) "\"><freejoint name=\"" name "\"/>"                        \
    "<geom name=\"" name "\" type=\"box\" size=\"" MANIP_STR(MANIP_HALF) " " MANIP_STR(MANIP_HALF) " "                   \
    MANIP_STR(MANIP_HALF) "\" mass=\"0.05\" rgba=\"" rgba "\"/></body>"

/* A bin named `name` centred at (x, y) (string literals, metres): walls 1 cm thick around the inner square
 * (0.06 + 0.005 = 0.065 from the centre, 0.025 = half the height). */
#define MANIP_XML_BIN_AT(name, x, y, rgba)                                                                                \
    "<body name=\"" name "\" pos=\"" x " " y " 0\">"                                                                      \
    "<geom type=\"box\" pos=\"0.065 0 0.025\" size=\"0.005 0.07 0.025\" rgba=\"" rgba "\"/>"                             \
    "<geom type=\"box\" pos=\"-0.065 0 0.025\" size=\"0.005 0.07 0.025\" rgba=\"" rgba "\"/>"                            \
    "<geom type=\"box\" pos=\"0 0.065 0.025\" size=\"0.06 0.005 0.025\" rgba=\"" rgba "\"/>"                             \
    "<geom type=\"box\" pos=\"0 -0.065 0.025\" size=\"0.06 0.005 0.025\" rgba=\"" rgba "\"/>"                            \
    "</body>"

/* pickplace's bin; bins2's two, at x = -MANIP_BINS2_X (cube_a's) and +MANIP_BINS2_X (cube_b's), y = MANIP_BIN_Y */
#define MANIP_XML_BIN MANIP_XML_BIN_AT("bin", MANIP_STR(MANIP_BIN_X), MANIP_STR(MANIP_BIN_Y), "0.4 0.4 0.8 1")
#define MANIP_XML_BINS2                                                                                                   \
    MANIP_XML_BIN_AT("bin_a", "-" MANIP_STR(MANIP_BINS2_X), MANIP_STR(MANIP_BIN_Y), "0.8 0.45 0.45 1")                     \
    MANIP_XML_BIN_AT("bin_b", MANIP_STR(MANIP_BINS2_X), MANIP_STR(MANIP_BIN_Y), "0.45 0.75 0.5 1")

#define MANIP_XML_SERVO(joint, kp, extra)                                                                                 \
    "<position name=\"" joint "\" joint=\"" joint "\" kp=\"" kp "\" ctrlrange=\"-1 1\"" extra "/>"

#define MANIP_XML_TAIL                                                                                                    \
    "</worldbody>"                                                                                                        \
    "<contact><exclude body1=\"finger_l\" body2=\"finger_r\"/></contact>"                                                 \
    "<actuator>"                                                                                                          \
    MANIP_XML_SERVO("x", "2000", "") MANIP_XML_SERVO("y", "2000", "") MANIP_XML_SERVO("z", "2000", "")                   \
    MANIP_XML_SERVO("finger_l", "500", " forcerange=\"-" MANIP_STR(MANIP_SQUEEZE) " " MANIP_STR(MANIP_SQUEEZE) "\"")      \
    MANIP_XML_SERVO("finger_r", "500", " forcerange=\"-" MANIP_STR(MANIP_SQUEEZE) " " MANIP_STR(MANIP_SQUEEZE) "\"")      \
    "</actuator>"                                                                                                         \
    "</mujoco>"

#endif
