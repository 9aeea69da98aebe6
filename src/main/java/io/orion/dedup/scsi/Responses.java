package io.orion.dedup.scsi;

import java.nio.ByteBuffer;

/** Small factories for {@link ScsiResponse}. */
final class Responses {

    private Responses() {
    }

    static ScsiResponse good() {
        return new ScsiResponse(ScsiResponse.GOOD, null, null, 0);
    }

    static ScsiResponse goodOut(int dataOutLength) {
        return new ScsiResponse(ScsiResponse.GOOD, null, null, dataOutLength);
    }

    /** GOOD with {@code data} truncated to the CDB's allocation length (SPC-4 §4.2.5.6). */
    static ScsiResponse data(byte[] data, long allocationLength) {
        int n = (int) Math.min(data.length, allocationLength);
        return new ScsiResponse(ScsiResponse.GOOD, null, ByteBuffer.wrap(data, 0, n), 0);
    }

    static ScsiResponse data(ByteBuffer data) {
        return new ScsiResponse(ScsiResponse.GOOD, null, data, 0);
    }

    static ScsiResponse check(byte[] sense, int dataOutLength) {
        return new ScsiResponse(ScsiResponse.CHECK_CONDITION, sense, null, dataOutLength);
    }

    static ScsiResponse conflict(int dataOutLength) {
        return new ScsiResponse(ScsiResponse.RESERVATION_CONFLICT, null, null, dataOutLength);
    }
}
