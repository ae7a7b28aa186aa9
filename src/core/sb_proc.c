/* sb_proc.c - the /proc readers of sb_proc.h. */
#include "sb_proc.h"

#include <stdio.h>

void sb_proc_memory(uint64_t *rss, uint64_t *hwm) {
    uint64_t r = 0, h = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            unsigned long long kb;
            if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
                r = (uint64_t)kb * 1024u;
            else if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
                h = (uint64_t)kb * 1024u;
        }
        fclose(f);
    }
    if (rss)
        *rss = r;
    if (hwm)
        *hwm = h;
}

uint64_t sb_proc_mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024u;
}
