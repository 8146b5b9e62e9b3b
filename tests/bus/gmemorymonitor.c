/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A GLib application as any other: it uses GMemoryMonitor (GIO's D-Bus
 * backend, which listens to org.freedesktop.LowMemoryMonitor on the system
 * bus) and prints "warning <level>" for each low-memory-warning, for
 * --seconds (default 30). Prints "ready" once the monitor exists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

static void on_warning(GMemoryMonitor *m, GMemoryMonitorWarningLevel level, gpointer userdata) {
        printf("warning %d\n", (int) level);
        fflush(stdout);
}

static gboolean on_timeout(gpointer userdata) {
        g_main_loop_quit(userdata);
        return G_SOURCE_REMOVE;
}

int main(int argc, char *argv[]) {
        unsigned seconds = 30;
        GMemoryMonitor *m;
        GMainLoop *loop;

        for (int i = 1; i < argc; i++)
                if (strncmp(argv[i], "--seconds=", 10) == 0)
                        seconds = (unsigned) strtoul(argv[i] + 10, NULL, 10);
        loop = g_main_loop_new(NULL, FALSE);
        m = g_memory_monitor_dup_default();
        if (!m) {
                fprintf(stderr, "no GMemoryMonitor\n");
                return 1;
        }
        printf("ready %s\n", G_OBJECT_TYPE_NAME(m));
        fflush(stdout);
        g_signal_connect(m, "low-memory-warning", G_CALLBACK(on_warning), NULL);
        g_timeout_add_seconds(seconds, on_timeout, loop);
        g_main_loop_run(loop);
        g_object_unref(m);
        g_main_loop_unref(loop);
        return 0;
}
