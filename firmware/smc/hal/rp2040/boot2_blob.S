/* boot2_blob.S - places the checksummed second stage (BOOT2_BIN) at the start of flash. */
    .section .boot2, "ax"
    .incbin BOOT2_BIN
