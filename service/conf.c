/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>

#include "conf.h"
#include "memcgd/limits.h"
#include "memcgd/parse.h"
#include "util.h"

static void g_key_file_freep(GKeyFile **k) {
        if (*k)
                g_key_file_free(*k);
}

static void g_error_freep(GError **e) {
        if (*e)
                g_error_free(*e);
}

typedef enum KeyType {
        KEY_SIZE,
        KEY_DOUBLE,
        KEY_DURATION,
        KEY_INT,
        KEY_STRING,     /* handled by the caller */
        KEY_BOOL,       /* yes/no, true/false, 1/0, on/off */
} KeyType;

typedef struct KeyDef {
        const char *group;
        const char *key;
        KeyType type;
        size_t offset;  /* into ServiceConfig, (size_t)-1 = special */
} KeyDef;

#define CFG_OFF(f) offsetof(ServiceConfig, f)
#define SPECIAL ((size_t) -1)

static const KeyDef keys[] = {
        { "Manager", "Budget", KEY_STRING, SPECIAL },
        { "Manager", "DefaultInitialLimit", KEY_SIZE, CFG_OFF(engine.default_initial_limit) },
        { "Manager", "RealtimePriority", KEY_INT, CFG_OFF(engine.realtime_priority) },
        { "Manager", "WorkerStackSize", KEY_SIZE, SPECIAL },
        { "Manager", "LogLevel", KEY_STRING, SPECIAL },
        { "Oom", "DefaultPolicy", KEY_STRING, SPECIAL },
        { "Oom", "DecisionTimeout", KEY_DURATION, CFG_OFF(engine.oom_decision_timeout_usec) },
        { "Oom", "EmergencyMax", KEY_SIZE, CFG_OFF(engine.oom_emergency_max_bytes) },
        { "Oom", "EventInterval", KEY_DURATION, CFG_OFF(engine.oom_event_interval_usec) },
        { "Oom", "HoldAtLimit", KEY_BOOL, CFG_OFF(engine.v1_hold_at_limit) },
        { "Pressure", "Enabled", KEY_BOOL, SPECIAL },
        { "Pressure", "QuietTime", KEY_DURATION, CFG_OFF(engine.pressure_quiet_usec) },
        { "Pressure", "ReclaimInterval", KEY_DURATION, CFG_OFF(engine.reclaim_interval_usec) },
        { "Pressure", "LowMemoryMonitor", KEY_BOOL, CFG_OFF(low_memory_monitor) },
        { "Limits", "HighRatioThreshold", KEY_SIZE, CFG_OFF(engine.tunables.high_ratio_threshold) },
        { "Limits", "HighRatio", KEY_DOUBLE, CFG_OFF(engine.tunables.high_ratio) },
        { "Limits", "HighGap", KEY_SIZE, CFG_OFF(engine.tunables.high_gap) },
        { "Limits", "GrowRatio", KEY_DOUBLE, CFG_OFF(engine.tunables.grow_ratio) },
        { "Limits", "GrowMinStep", KEY_SIZE, CFG_OFF(engine.tunables.grow_min_step) },
        { "Limits", "ShrinkBase", KEY_DURATION, CFG_OFF(engine.tunables.shrink_base_usec) },
        { "Limits", "ShrinkMax", KEY_DURATION, CFG_OFF(engine.tunables.shrink_max_usec) },
        { "Limits", "ShrinkMinMargin", KEY_DOUBLE, CFG_OFF(engine.tunables.shrink_min_margin) },
};

static const KeyDef *find_key(const char *group, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(keys[i].group, group) && streq(keys[i].key, key))
                        return &keys[i];
        return NULL;
}

static int parse_double_strict(const char *s, double *ret) {
        char *end;
        double v;

        if (!s || !*s || !((s[0] >= '0' && s[0] <= '9') || s[0] == '.'))
                return -EINVAL;
        v = g_ascii_strtod(s, &end);
        if (end == s || *end != 0 || !isfinite(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_int_strict(const char *s, int *ret) {
        char *end;
        long v;

        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end != 0 || v < 0 || v > 99)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

/* Applies one typed value; `where` names its origin for the message. */
static int apply_value(ServiceConfig *c, const KeyDef *k, const char *value, const char *where) {
        int r = 0;

        switch (k->type) {
        case KEY_SIZE: {
                uint64_t v;
                r = parse_size(value, &v);
                if (r >= 0 && k->offset == SPECIAL)
                        c->engine.stack_size = (size_t) v;
                else if (r >= 0)
                        *(uint64_t *) ((char *) c + k->offset) = v;
                break;
        }
        case KEY_DOUBLE: {
                double v;
                r = parse_double_strict(value, &v);
                if (r >= 0)
                        *(double *) ((char *) c + k->offset) = v;
                break;
        }
        case KEY_DURATION: {
                uint64_t v;
                r = parse_duration_usec(value, &v);
                if (r >= 0)
                        *(uint64_t *) ((char *) c + k->offset) = v;
                break;
        }
        case KEY_INT: {
                int v;
                r = parse_int_strict(value, &v);
                if (r >= 0)
                        *(int *) ((char *) c + k->offset) = v;
                break;
        }
        case KEY_BOOL: {
                bool v;
                if (g_ascii_strcasecmp(value, "yes") == 0 || g_ascii_strcasecmp(value, "true") == 0 ||
                    g_ascii_strcasecmp(value, "on") == 0 || streq(value, "1"))
                        v = true;
                else if (g_ascii_strcasecmp(value, "no") == 0 || g_ascii_strcasecmp(value, "false") == 0 ||
                         g_ascii_strcasecmp(value, "off") == 0 || streq(value, "0"))
                        v = false;
                else {
                        r = -EINVAL;
                        break;
                }
                if (k->offset == SPECIAL) /* [Pressure] Enabled= */
                        c->engine.pressure_disabled = !v;
                else
                        *(bool *) ((char *) c + k->offset) = v;
                break;
        }
        case KEY_STRING:
                if (streq(k->key, "Budget")) {
                        g_free(c->budget_spec);
                        c->budget_spec = g_strdup(value);
                } else if (streq(k->key, "LogLevel")) {
                        r = log_level_from_string(value);
                        if (r >= 0)
                                c->log_level = r;
                } else if (streq(k->key, "DefaultPolicy")) {
                        OomPolicy p;
                        r = oom_policy_from_string(value, &p);
                        if (r >= 0)
                                c->default_oom_policy = p;
                }
                break;
        }

        if (r < 0)
                return log_error_errno(r, "%s: invalid value for %s=: \"%s\"", where, k->key, value);
        return 0;
}

static int load_file(ServiceConfig *c, const char *path, bool must_exist) {
        _cleanup_(g_key_file_freep) GKeyFile *kf = g_key_file_new();
        _cleanup_(g_error_freep) GError *err = NULL;
        _cleanup_strv_free_ char **groups = NULL;

        if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err)) {
                if (!must_exist && g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
                        log_debug("No configuration file %s, using defaults", path);
                        return 0;
                }
                return log_error_errno(EINVAL, "Failed to load configuration %s: %s", path, err->message);
        }

        groups = g_key_file_get_groups(kf, NULL);
        for (char **g = groups; g && *g; g++) {
                _cleanup_strv_free_ char **names = g_key_file_get_keys(kf, *g, NULL, NULL);

                if (!streq(*g, "Manager") && !streq(*g, "Limits") && !streq(*g, "Oom") && !streq(*g, "Pressure")) {
                        log_warning("%s: unknown section [%s], ignoring", path, *g);
                        continue;
                }
                for (char **k = names; k && *k; k++) {
                        const KeyDef *def = find_key(*g, *k);
                        _cleanup_gfree_ char *value = NULL;
                        _cleanup_gfree_ char *where = NULL;
                        int r;

                        if (!def) {
                                log_warning("%s: unknown key %s= in [%s], ignoring", path, *k, *g);
                                continue;
                        }
                        value = g_key_file_get_string(kf, *g, *k, NULL);
                        if (!value)
                                continue;
                        g_strstrip(value);
                        where = g_strdup_printf("%s [%s]", path, *g);
                        r = apply_value(c, def, value, where);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int read_memtotal(const char *meminfo_path, uint64_t *ret) {
        _cleanup_gfree_ char *buf = NULL;
        _cleanup_(g_error_freep) GError *err = NULL;
        gsize len;

        if (!g_file_get_contents(meminfo_path, &buf, &len, &err))
                return log_error_errno(EIO, "Failed to read %s: %s", meminfo_path, err->message);
        int r = parse_meminfo_total(buf, len, ret);
        if (r < 0)
                return log_error_errno(r, "Failed to parse MemTotal from %s: %s", meminfo_path, strerror(-r));
        return 0;
}

char *config_default_state_directory(void) {
        const char *e = getenv("STATE_DIRECTORY");

        if (e && e[0] == '/') {
                const char *colon = strchr(e, ':');
                return colon ? g_strndup(e, (gsize) (colon - e)) : g_strdup(e);
        }
        return g_strdup(MEMCGD_STATEDIR);
}

int config_load(const char *path, const ConfigOverrides *o, const char *meminfo_path, ServiceConfig *ret) {
        static const ConfigOverrides none = {};
        uint64_t memtotal = 0;
        int r;

        *ret = (ServiceConfig) { .log_level = -1, .low_memory_monitor = true };
        engine_config_init_default(&ret->engine);
        if (!o)
                o = &none;

        r = load_file(ret, path ?: CONFIG_DEFAULT_PATH, path != NULL);
        if (r < 0)
                return r;

        if (o->budget) {
                g_free(ret->budget_spec);
                ret->budget_spec = g_strdup(o->budget);
        }
        if (o->shrink_base) {
                r = apply_value(ret, find_key("Limits", "ShrinkBase"), o->shrink_base, "--shrink-base");
                if (r < 0)
                        return r;
        }
        if (o->log_level) {
                r = apply_value(ret, find_key("Manager", "LogLevel"), o->log_level, "--log-level");
                if (r < 0)
                        return r;
        }
        if (o->root)
                ret->root = g_strdup(o->root);
        ret->engine.root = ret->root;

        ret->state_directory = o->state_directory ? g_strdup(o->state_directory)
                                                  : config_default_state_directory();
        if (ret->state_directory[0] != '/')
                return log_error_errno(EINVAL, "State directory must be an absolute path: %s",
                                       ret->state_directory);

        if (!ret->budget_spec)
                ret->budget_spec = g_strdup("100%");
        if (strchr(ret->budget_spec, '%')) {
                r = read_memtotal(meminfo_path ?: "/proc/meminfo", &memtotal);
                if (r < 0)
                        return r;
        }
        r = parse_size_or_percent(ret->budget_spec, memtotal, &ret->engine.budget_bytes);
        if (r < 0)
                return log_error_errno(r, "Invalid budget \"%s\": expected a size like 4G or a percentage of MemTotal like 80%%",
                                       ret->budget_spec);
        if (ret->engine.budget_bytes == 0)
                return log_error_errno(EINVAL, "Invalid budget \"%s\": must be more than 0 bytes", ret->budget_spec);

        if (tunables_validate(&ret->engine.tunables) < 0) {
                const Tunables *t = &ret->engine.tunables;
                return log_error_errno(EINVAL,
                                       "Tunables out of range: HighRatio=%g (> 1.0) GrowRatio=%g (>= 1.0), ShrinkMinMargin=%g (0..1), "
                                       "ShrinkBase=%" PRIu64 "us (> 0), ShrinkMax=%" PRIu64 "us (>= ShrinkBase)",
                                       t->high_ratio, t->grow_ratio, t->shrink_min_margin,
                                       t->shrink_base_usec, t->shrink_max_usec);
        }
        return 0;
}

void config_done(ServiceConfig *c) {
        if (!c)
                return;
        g_free(c->root);
        g_free(c->state_directory);
        g_free(c->budget_spec);
        c->root = c->state_directory = c->budget_spec = NULL;
        c->engine.root = NULL;
}
