package io.orion.dedup.blockdev;

/** One extent of GET LBA STATUS (SBC-4 §5.8): {@code blocks} blocks from {@code lba}, mapped or not. */
public record LbaStatus(long lba, long blocks, boolean mapped) {
    public LbaStatus {
        if (blocks < 1) {
            throw new IllegalArgumentException("extent must hold at least one block: " + blocks);
        }
    }
}
