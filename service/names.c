/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "memcgd/engine.h"

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static const char *const error_names[_MEMCG_ERROR_MAX] = {
        [MEMCG_OK] = NULL,
        [MEMCG_ERROR_INVALID_PATH] = "org.memcgd1.Error.InvalidPath",
        [MEMCG_ERROR_NO_SUCH_CGROUP] = "org.memcgd1.Error.NoSuchCgroup",
        [MEMCG_ERROR_NOT_MEMCG] = "org.memcgd1.Error.NotMemcg",
        [MEMCG_ERROR_NOT_MONITORED] = "org.memcgd1.Error.NotMonitored",
        [MEMCG_ERROR_LIMIT_BELOW_USAGE] = "org.memcgd1.Error.LimitBelowUsage",
        [MEMCG_ERROR_BUDGET_EXCEEDED] = "org.memcgd1.Error.BudgetExceeded",
        [MEMCG_ERROR_LIMIT_OUT_OF_RANGE] = "org.memcgd1.Error.LimitOutOfRange",
        [MEMCG_ERROR_FAILED] = "org.freedesktop.DBus.Error.Failed",
};

const char *memcg_error_name(MemcgErrorCode code) {
        if ((unsigned) code >= ELEMENTSOF(error_names))
                return "org.freedesktop.DBus.Error.Failed";
        return error_names[code];
}

const char *backend_to_string(Backend b) {
        return b == BACKEND_V1 ? "v1" : "v2";
}

static const char *const reason_names[_LIMIT_REASON_MAX] = {
        [LIMIT_REASON_INITIAL] = "initial", [LIMIT_REASON_GROW] = "grow",
        [LIMIT_REASON_SHRINK] = "shrink",   [LIMIT_REASON_MANUAL] = "manual",
        [LIMIT_REASON_RESTORE] = "restore",   [LIMIT_REASON_EMERGENCY] = "emergency",
        [LIMIT_REASON_DECISION] = "decision",
};

const char *limit_reason_to_string(LimitReason r) {
        return (unsigned) r < ELEMENTSOF(reason_names) ? reason_names[r] : NULL;
}

static const char *const stop_names[_STOP_REASON_MAX] = {
        [STOP_REASON_REMOVED] = "removed",
        [STOP_REASON_UNMONITORED] = "unmonitored",
        [STOP_REASON_ERROR] = "error",
        [STOP_REASON_SHUTDOWN] = "shutdown",
};

const char *stop_reason_to_string(StopReason r) {
        return (unsigned) r < ELEMENTSOF(stop_names) ? stop_names[r] : NULL;
}

static const char *const oom_names[_OOM_KIND_MAX] = {
        [OOM_KIND_MAX] = "max",
        [OOM_KIND_OOM] = "oom",
        [OOM_KIND_OOM_KILL] = "oom_kill",
        [OOM_KIND_OOM_GROUP_KILL] = "oom_group_kill",
        [OOM_KIND_FROZEN] = "frozen",
        [OOM_KIND_RESOLVED] = "resolved",
};

const char *oom_kind_to_string(OomKind k) {
        return (unsigned) k < ELEMENTSOF(oom_names) ? oom_names[k] : NULL;
}

static const char *const stat_names[_STAT_U64_MAX] = {
        [STAT_CURRENT_BYTES] = "current_bytes",
        [STAT_MAX_LIMIT_BYTES] = "max_limit_bytes",
        [STAT_HIGH_LIMIT_BYTES] = "high_limit_bytes",
        [STAT_PEAK_BYTES] = "peak_bytes",
        [STAT_SWAP_BYTES] = "swap_bytes",
        [STAT_KMEM_BYTES] = "kmem_bytes",
        [STAT_EVENTS_HIGH] = "events_high",
        [STAT_EVENTS_MAX] = "events_max",
        [STAT_EVENTS_OOM] = "events_oom",
        [STAT_EVENTS_OOM_KILL] = "events_oom_kill",
        [STAT_LIMIT_INCREASES] = "limit_increases",
        [STAT_LIMIT_DECREASES] = "limit_decreases",
        [STAT_GRANTED_BYTES] = "granted_bytes",
        [STAT_NEXT_SHRINK_CHECK_USEC] = "next_shrink_check_usec",
};

const char *stat_key_to_string(StatKey k) {
        return (unsigned) k < ELEMENTSOF(stat_names) ? stat_names[k] : NULL;
}

static const char *const policy_names[_OOM_POLICY_MAX] = {
        [OOM_POLICY_KILL] = "kill",
        [OOM_POLICY_GROW] = "grow",
        [OOM_POLICY_FREEZE] = "freeze",
};

const char *oom_policy_to_string(OomPolicy p) {
        return (unsigned) p < ELEMENTSOF(policy_names) ? policy_names[p] : NULL;
}

static int lookup_name(const char *const *names, size_t n, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (names[i] && strcmp(names[i], s) == 0)
                        return (int) i;
        return -EINVAL;
}

int oom_policy_from_string(const char *s, OomPolicy *ret) {
        int i = lookup_name(policy_names, ELEMENTSOF(policy_names), s);
        if (i < 0)
                return i;
        *ret = (OomPolicy) i;
        return 0;
}

static const char *const decision_names[_OOM_DECISION_MAX] = {
        [OOM_DECISION_RAISE] = "raise",
        [OOM_DECISION_KILL_LARGEST] = "kill-largest",
        [OOM_DECISION_KILL_ALL] = "kill-all",
};

const char *oom_decision_to_string(OomDecision d) {
        return (unsigned) d < ELEMENTSOF(decision_names) ? decision_names[d] : NULL;
}

int oom_decision_from_string(const char *s, OomDecision *ret) {
        int i = lookup_name(decision_names, ELEMENTSOF(decision_names), s);
        if (i < 0)
                return i;
        *ret = (OomDecision) i;
        return 0;
}

static const char *const cause_names[_KILL_CAUSE_MAX] = {
        [KILL_CAUSE_KERNEL] = "kernel",
        [KILL_CAUSE_DECISION] = "decision",
        [KILL_CAUSE_TIMEOUT] = "timeout",
};

const char *kill_cause_to_string(KillCause c) {
        return (unsigned) c < ELEMENTSOF(cause_names) ? cause_names[c] : NULL;
}
