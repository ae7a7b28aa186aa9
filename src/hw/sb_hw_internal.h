/*
 * sb_hw_internal.h - what the files of src/hw share beyond the public sb_hw.h.
 */
#ifndef SB_HW_INTERNAL_H
#define SB_HW_INTERNAL_H

#include "sb_hw.h"

/* Brackets one request/response exchange (flock on spidev, so host processes do not interleave
 * their requests and read polls on the bus). */
sb_status sb_hw_transport_lock(sb_hw_transport *t, sb_error *err);
void sb_hw_transport_unlock(sb_hw_transport *t);

#endif
