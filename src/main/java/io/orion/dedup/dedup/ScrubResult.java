package io.orion.dedup.dedup;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * Outcome of a verification pass: the metadata file's integrity check (every page and entry of
 * {@code data.mdb}), the containers' slot headers, and every chunk record read back, CRC32C
 * checked, decompressed and re-fingerprinted. The pass goes on past each error and reports them all.
 *
 * @param metadataErrors problems found in the metadata (damaged pages or entries, with database and
 *     key range)
 * @param containerErrors containers whose slot header or data was found damaged
 * @param problems up to 100 human-readable descriptions of what failed
 * @param mapErrors mapped blocks whose chunk does not exist
 * @param mappedBlocks mapped (non-zero) blocks whose chunk was looked up
 * @param affected the volumes' LBA ranges (in logical blocks) that map a damaged chunk, up to 1000
 * @param cancelled the pass was cancelled before it had checked everything
 * @param repair the pass was asked to repair damaged chunks ({@code scrub --repair})
 * @param repaired damaged chunks rewritten from a good copy (their blocks read sound data again)
 * @param unrepairable damaged chunks that stay damaged (no good copy found, or not attempted); with
 *     {@code repair} false, 0
 * @param unrepairableChunks up to 1000 of them, with the reason
 * @param readErrors chunk records the device could not read (EIO): traced to their blocks like
 *     damaged ones, and repaired with {@code repair}
 */
public record ScrubResult(@JsonProperty("chunks_checked") long chunksChecked,
                          @JsonProperty("bytes_checked") long bytesChecked,
                          @JsonProperty("crc_errors") long crcErrors,
                          @JsonProperty("fingerprint_mismatches") long fingerprintMismatches,
                          @JsonProperty("metadata_errors") long metadataErrors,
                          @JsonProperty("container_errors") long containerErrors,
                          @JsonProperty("problems") List<String> problems,
                          @JsonProperty("map_errors") long mapErrors,
                          @JsonProperty("mapped_blocks") long mappedBlocks,
                          @JsonProperty("affected") List<Affected> affected,
                          @JsonProperty("cancelled") boolean cancelled,
                          @JsonProperty("repair") boolean repair,
                          @JsonProperty("repaired") long repaired,
                          @JsonProperty("unrepairable") long unrepairable,
                          @JsonProperty("unrepairable_chunks") List<Unrepairable> unrepairableChunks,
                          @JsonProperty("read_errors") long readErrors) {

    /** Without repair figures (a pass that only checks). */
    public ScrubResult(long chunksChecked, long bytesChecked, long crcErrors, long fingerprintMismatches,
                       long metadataErrors, long containerErrors, List<String> problems, long mapErrors,
                       long mappedBlocks, List<Affected> affected, boolean cancelled) {
        this(chunksChecked, bytesChecked, crcErrors, fingerprintMismatches, metadataErrors, containerErrors, problems,
                mapErrors, mappedBlocks, affected, cancelled, false, 0, 0, List.of(), 0);
    }

    /** Without the block-map figures (a pass that did not walk the maps). */
    public ScrubResult(long chunksChecked, long bytesChecked, long crcErrors, long fingerprintMismatches,
                       long metadataErrors, long containerErrors, List<String> problems) {
        this(chunksChecked, bytesChecked, crcErrors, fingerprintMismatches, metadataErrors, containerErrors, problems,
                0, 0, List.of(), false);
    }

    /**
     * One LBA range of a volume whose blocks map a damaged chunk: reading them fails.
     *
     * @param firstLba first logical block (of the volume's logical block size)
     * @param lastLba last logical block, inclusive
     * @param problem what is wrong with the chunk
     */
    public record Affected(@JsonProperty("chunk") long chunk, @JsonProperty("volume") String volume,
                           @JsonProperty("first_lba") long firstLba, @JsonProperty("last_lba") long lastLba,
                           @JsonProperty("problem") String problem) {
    }

    /**
     * A damaged chunk {@code scrub --repair} could not rewrite: it stays damaged (its blocks answer
     * MEDIUM ERROR).
     *
     * @param reason why, e.g. no good copy found
     */
    public record Unrepairable(@JsonProperty("chunk") long chunk, @JsonProperty("reason") String reason) {
    }

    /**
     * Nothing found damaged, or (with {@code repair}) every damaged chunk found was repaired and
     * nothing else is wrong.
     */
    public boolean clean() {
        long chunkDamage = repair ? unrepairable : crcErrors + fingerprintMismatches + readErrors;
        return chunkDamage == 0 && metadataErrors == 0 && containerErrors == 0 && mapErrors == 0;
    }
}
