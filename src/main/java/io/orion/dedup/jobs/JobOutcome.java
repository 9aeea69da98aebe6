package io.orion.dedup.jobs;

import java.util.Map;

/**
 * What a finished job's work reports.
 *
 * @param result named figures ({@code snake_case}), shown by {@code job show} and kept as the last result
 * @param summary a few words for {@code status}, e.g. {@code 0 errors} or {@code 1.2 GiB reclaimed}
 * @param clean false when the job completed but found problems (a scrub that found damage)
 */
public record JobOutcome(Map<String, Object> result, String summary, boolean clean) {
}
