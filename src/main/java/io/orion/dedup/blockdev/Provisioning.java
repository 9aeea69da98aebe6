package io.orion.dedup.blockdev;

/**
 * The logical block provisioning resources behind a thin device (SBC-4 §4.7.3.7): how many bytes
 * the store that supplies its blocks holds, uses and has left, and the soft threshold (percent of
 * the capacity in use) above which initiators are warned. Reported by the Logical Block
 * Provisioning log page and VPD page B2h; the soft threshold raises THIN PROVISIONING SOFT
 * THRESHOLD REACHED.
 *
 * @param capacityBytes bytes the store can hold (LUN capacity for a device with its own store)
 * @param usedBytes bytes in use, or -1 when the device does not know
 * @param availableBytes bytes still available for new blocks
 * @param warningPercent soft threshold in percent of {@code capacityBytes}, 0 for none
 * @param dedicated true when the resources serve only this device, false when shared (a pool)
 */
public record Provisioning(long capacityBytes, long usedBytes, long availableBytes, int warningPercent,
                           boolean dedicated) {

    /** True when a soft threshold is set and the used bytes reached it. */
    public boolean aboveWarning() {
        return warningPercent > 0 && usedBytes >= 0 && capacityBytes > 0
                && usedBytes * 100.0 >= capacityBytes * (double) warningPercent;
    }
}
