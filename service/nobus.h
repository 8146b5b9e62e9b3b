/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "memcgd/engine.h"

/* The engine without D-Bus, for trying it by hand: monitors each
 * "PATH=SIZE" (SIZE 0 or absent = derived) and prints every event as one
 * line on stdout until SIGINT/SIGTERM. Returns the exit code. */
int run_no_bus(Engine *e, char **monitor_specs);
