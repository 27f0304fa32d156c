/** Docker's global VXLAN ids start at 4096 (lower ones are left to other users of VXLAN). */
export const FIRST_VNI = 4096;
