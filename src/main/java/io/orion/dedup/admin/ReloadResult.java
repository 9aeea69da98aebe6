package io.orion.dedup.admin;

import java.util.List;

/**
 * What {@code reload} did: the target files read again and the live server made to match them, sessions
 * kept (only the sessions of a target whose file is gone, or of an initiator whose ACL is gone, end).
 *
 * @param directory the targets directory read
 * @param added targets whose file is new
 * @param changed targets whose definition changed (applied as the admin commands apply it)
 * @param removed targets whose file is gone (their sessions are dropped, their volumes kept)
 * @param unchanged how many targets are as they were
 */
public record ReloadResult(String directory, List<String> added, List<String> changed, List<String> removed,
        int unchanged) {

    public ReloadResult {
        added = List.copyOf(added);
        changed = List.copyOf(changed);
        removed = List.copyOf(removed);
    }
}
