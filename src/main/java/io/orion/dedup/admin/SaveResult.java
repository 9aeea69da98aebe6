package io.orion.dedup.admin;

import java.util.List;

/**
 * What {@code saveconfig} wrote.
 *
 * @param files target definition files written (atomically)
 */
public record SaveResult(List<String> files) {

    public SaveResult {
        files = List.copyOf(files);
    }
}
