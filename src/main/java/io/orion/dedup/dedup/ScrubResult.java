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
 */
public record ScrubResult(@JsonProperty("chunks_checked") long chunksChecked,
                          @JsonProperty("bytes_checked") long bytesChecked,
                          @JsonProperty("crc_errors") long crcErrors,
                          @JsonProperty("fingerprint_mismatches") long fingerprintMismatches,
                          @JsonProperty("metadata_errors") long metadataErrors,
                          @JsonProperty("container_errors") long containerErrors,
                          @JsonProperty("problems") List<String> problems) {
    public boolean clean() {
        return crcErrors == 0 && fingerprintMismatches == 0 && metadataErrors == 0 && containerErrors == 0;
    }
}
