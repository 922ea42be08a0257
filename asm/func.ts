/**
 * The kernel's helper functions: one {@linkcode BuiltinFunc} constant per helper, named as in
 * cilium/ebpf (`FnMapLookupElem` for `bpf_map_lookup_elem`).
 *
 * @module
 */

import { Instruction } from "./instruction.ts";
import { CallKind, Class, JumpOp } from "./opcode.ts";
import { HELPER_NAMES } from "./_helper_names.ts";

/**
 * A kernel helper function, by number. `Call()` builds the call instruction.
 *
 * @example
 * ```ts
 * import { asm } from "@ebpf/ebpf";
 * const call = asm.FnMapLookupElem.Call();
 * console.log(asm.formatInstruction(call)); // "call bpf_map_lookup_elem#1"
 * ```
 */
export class BuiltinFunc {
  /** The helper number (`enum bpf_func_id`). */
  readonly id: number;

  /** Makes the helper with number `id`. */
  constructor(id: number) {
    if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
      throw new RangeError(`Invalid helper number: ${id}`);
    }
    this.id = id;
  }

  /** The helper's C name, such as `"bpf_map_lookup_elem"`; `"helper#<n>"` when unknown. */
  get name(): string {
    const name = HELPER_NAMES[this.id];
    return name === undefined ? `helper#${this.id}` : `bpf_${name}`;
  }

  /** The instruction that calls this helper. */
  Call(): Instruction {
    return Instruction(Class.JMP | JumpOp.Call, 0, CallKind.Helper, 0, this.id);
  }

  /** The helper's C name. */
  toString(): string {
    return this.name;
  }

  /** The helper with the given C name (with or without `bpf_`), or undefined. */
  static byName(name: string): BuiltinFunc | undefined {
    const bare = name.startsWith("bpf_") ? name.slice(4) : name;
    const id = HELPER_NAMES.indexOf(bare);
    return id < 0 ? undefined : new BuiltinFunc(id);
  }
}

/** How many helper numbers the kernel defines (the highest is one less). */
export const HELPER_COUNT: number = HELPER_NAMES.length;

/** `bpf_unspec`, helper 0. */
export const FnUnspec: BuiltinFunc = new BuiltinFunc(0);

/** `bpf_map_lookup_elem`, helper 1. */
export const FnMapLookupElem: BuiltinFunc = new BuiltinFunc(1);

/** `bpf_map_update_elem`, helper 2. */
export const FnMapUpdateElem: BuiltinFunc = new BuiltinFunc(2);

/** `bpf_map_delete_elem`, helper 3. */
export const FnMapDeleteElem: BuiltinFunc = new BuiltinFunc(3);

/** `bpf_probe_read`, helper 4. */
export const FnProbeRead: BuiltinFunc = new BuiltinFunc(4);

/** `bpf_ktime_get_ns`, helper 5. */
export const FnKtimeGetNs: BuiltinFunc = new BuiltinFunc(5);

/** `bpf_trace_printk`, helper 6. */
export const FnTracePrintk: BuiltinFunc = new BuiltinFunc(6);

/** `bpf_get_prandom_u32`, helper 7. */
export const FnGetPrandomU32: BuiltinFunc = new BuiltinFunc(7);

/** `bpf_get_smp_processor_id`, helper 8. */
export const FnGetSmpProcessorId: BuiltinFunc = new BuiltinFunc(8);

/** `bpf_skb_store_bytes`, helper 9. */
export const FnSkbStoreBytes: BuiltinFunc = new BuiltinFunc(9);

/** `bpf_l3_csum_replace`, helper 10. */
export const FnL3CsumReplace: BuiltinFunc = new BuiltinFunc(10);

/** `bpf_l4_csum_replace`, helper 11. */
export const FnL4CsumReplace: BuiltinFunc = new BuiltinFunc(11);

/** `bpf_tail_call`, helper 12. */
export const FnTailCall: BuiltinFunc = new BuiltinFunc(12);

/** `bpf_clone_redirect`, helper 13. */
export const FnCloneRedirect: BuiltinFunc = new BuiltinFunc(13);

/** `bpf_get_current_pid_tgid`, helper 14. */
export const FnGetCurrentPidTgid: BuiltinFunc = new BuiltinFunc(14);

/** `bpf_get_current_uid_gid`, helper 15. */
export const FnGetCurrentUidGid: BuiltinFunc = new BuiltinFunc(15);

/** `bpf_get_current_comm`, helper 16. */
export const FnGetCurrentComm: BuiltinFunc = new BuiltinFunc(16);

/** `bpf_get_cgroup_classid`, helper 17. */
export const FnGetCgroupClassid: BuiltinFunc = new BuiltinFunc(17);

/** `bpf_skb_vlan_push`, helper 18. */
export const FnSkbVlanPush: BuiltinFunc = new BuiltinFunc(18);

/** `bpf_skb_vlan_pop`, helper 19. */
export const FnSkbVlanPop: BuiltinFunc = new BuiltinFunc(19);

/** `bpf_skb_get_tunnel_key`, helper 20. */
export const FnSkbGetTunnelKey: BuiltinFunc = new BuiltinFunc(20);

/** `bpf_skb_set_tunnel_key`, helper 21. */
export const FnSkbSetTunnelKey: BuiltinFunc = new BuiltinFunc(21);

/** `bpf_perf_event_read`, helper 22. */
export const FnPerfEventRead: BuiltinFunc = new BuiltinFunc(22);

/** `bpf_redirect`, helper 23. */
export const FnRedirect: BuiltinFunc = new BuiltinFunc(23);

/** `bpf_get_route_realm`, helper 24. */
export const FnGetRouteRealm: BuiltinFunc = new BuiltinFunc(24);

/** `bpf_perf_event_output`, helper 25. */
export const FnPerfEventOutput: BuiltinFunc = new BuiltinFunc(25);

/** `bpf_skb_load_bytes`, helper 26. */
export const FnSkbLoadBytes: BuiltinFunc = new BuiltinFunc(26);

/** `bpf_get_stackid`, helper 27. */
export const FnGetStackid: BuiltinFunc = new BuiltinFunc(27);

/** `bpf_csum_diff`, helper 28. */
export const FnCsumDiff: BuiltinFunc = new BuiltinFunc(28);

/** `bpf_skb_get_tunnel_opt`, helper 29. */
export const FnSkbGetTunnelOpt: BuiltinFunc = new BuiltinFunc(29);

/** `bpf_skb_set_tunnel_opt`, helper 30. */
export const FnSkbSetTunnelOpt: BuiltinFunc = new BuiltinFunc(30);

/** `bpf_skb_change_proto`, helper 31. */
export const FnSkbChangeProto: BuiltinFunc = new BuiltinFunc(31);

/** `bpf_skb_change_type`, helper 32. */
export const FnSkbChangeType: BuiltinFunc = new BuiltinFunc(32);

/** `bpf_skb_under_cgroup`, helper 33. */
export const FnSkbUnderCgroup: BuiltinFunc = new BuiltinFunc(33);

/** `bpf_get_hash_recalc`, helper 34. */
export const FnGetHashRecalc: BuiltinFunc = new BuiltinFunc(34);

/** `bpf_get_current_task`, helper 35. */
export const FnGetCurrentTask: BuiltinFunc = new BuiltinFunc(35);

/** `bpf_probe_write_user`, helper 36. */
export const FnProbeWriteUser: BuiltinFunc = new BuiltinFunc(36);

/** `bpf_current_task_under_cgroup`, helper 37. */
export const FnCurrentTaskUnderCgroup: BuiltinFunc = new BuiltinFunc(37);

/** `bpf_skb_change_tail`, helper 38. */
export const FnSkbChangeTail: BuiltinFunc = new BuiltinFunc(38);

/** `bpf_skb_pull_data`, helper 39. */
export const FnSkbPullData: BuiltinFunc = new BuiltinFunc(39);

/** `bpf_csum_update`, helper 40. */
export const FnCsumUpdate: BuiltinFunc = new BuiltinFunc(40);

/** `bpf_set_hash_invalid`, helper 41. */
export const FnSetHashInvalid: BuiltinFunc = new BuiltinFunc(41);

/** `bpf_get_numa_node_id`, helper 42. */
export const FnGetNumaNodeId: BuiltinFunc = new BuiltinFunc(42);

/** `bpf_skb_change_head`, helper 43. */
export const FnSkbChangeHead: BuiltinFunc = new BuiltinFunc(43);

/** `bpf_xdp_adjust_head`, helper 44. */
export const FnXdpAdjustHead: BuiltinFunc = new BuiltinFunc(44);

/** `bpf_probe_read_str`, helper 45. */
export const FnProbeReadStr: BuiltinFunc = new BuiltinFunc(45);

/** `bpf_get_socket_cookie`, helper 46. */
export const FnGetSocketCookie: BuiltinFunc = new BuiltinFunc(46);

/** `bpf_get_socket_uid`, helper 47. */
export const FnGetSocketUid: BuiltinFunc = new BuiltinFunc(47);

/** `bpf_set_hash`, helper 48. */
export const FnSetHash: BuiltinFunc = new BuiltinFunc(48);

/** `bpf_setsockopt`, helper 49. */
export const FnSetsockopt: BuiltinFunc = new BuiltinFunc(49);

/** `bpf_skb_adjust_room`, helper 50. */
export const FnSkbAdjustRoom: BuiltinFunc = new BuiltinFunc(50);

/** `bpf_redirect_map`, helper 51. */
export const FnRedirectMap: BuiltinFunc = new BuiltinFunc(51);

/** `bpf_sk_redirect_map`, helper 52. */
export const FnSkRedirectMap: BuiltinFunc = new BuiltinFunc(52);

/** `bpf_sock_map_update`, helper 53. */
export const FnSockMapUpdate: BuiltinFunc = new BuiltinFunc(53);

/** `bpf_xdp_adjust_meta`, helper 54. */
export const FnXdpAdjustMeta: BuiltinFunc = new BuiltinFunc(54);

/** `bpf_perf_event_read_value`, helper 55. */
export const FnPerfEventReadValue: BuiltinFunc = new BuiltinFunc(55);

/** `bpf_perf_prog_read_value`, helper 56. */
export const FnPerfProgReadValue: BuiltinFunc = new BuiltinFunc(56);

/** `bpf_getsockopt`, helper 57. */
export const FnGetsockopt: BuiltinFunc = new BuiltinFunc(57);

/** `bpf_override_return`, helper 58. */
export const FnOverrideReturn: BuiltinFunc = new BuiltinFunc(58);

/** `bpf_sock_ops_cb_flags_set`, helper 59. */
export const FnSockOpsCbFlagsSet: BuiltinFunc = new BuiltinFunc(59);

/** `bpf_msg_redirect_map`, helper 60. */
export const FnMsgRedirectMap: BuiltinFunc = new BuiltinFunc(60);

/** `bpf_msg_apply_bytes`, helper 61. */
export const FnMsgApplyBytes: BuiltinFunc = new BuiltinFunc(61);

/** `bpf_msg_cork_bytes`, helper 62. */
export const FnMsgCorkBytes: BuiltinFunc = new BuiltinFunc(62);

/** `bpf_msg_pull_data`, helper 63. */
export const FnMsgPullData: BuiltinFunc = new BuiltinFunc(63);

/** `bpf_bind`, helper 64. */
export const FnBind: BuiltinFunc = new BuiltinFunc(64);

/** `bpf_xdp_adjust_tail`, helper 65. */
export const FnXdpAdjustTail: BuiltinFunc = new BuiltinFunc(65);

/** `bpf_skb_get_xfrm_state`, helper 66. */
export const FnSkbGetXfrmState: BuiltinFunc = new BuiltinFunc(66);

/** `bpf_get_stack`, helper 67. */
export const FnGetStack: BuiltinFunc = new BuiltinFunc(67);

/** `bpf_skb_load_bytes_relative`, helper 68. */
export const FnSkbLoadBytesRelative: BuiltinFunc = new BuiltinFunc(68);

/** `bpf_fib_lookup`, helper 69. */
export const FnFibLookup: BuiltinFunc = new BuiltinFunc(69);

/** `bpf_sock_hash_update`, helper 70. */
export const FnSockHashUpdate: BuiltinFunc = new BuiltinFunc(70);

/** `bpf_msg_redirect_hash`, helper 71. */
export const FnMsgRedirectHash: BuiltinFunc = new BuiltinFunc(71);

/** `bpf_sk_redirect_hash`, helper 72. */
export const FnSkRedirectHash: BuiltinFunc = new BuiltinFunc(72);

/** `bpf_lwt_push_encap`, helper 73. */
export const FnLwtPushEncap: BuiltinFunc = new BuiltinFunc(73);

/** `bpf_lwt_seg6_store_bytes`, helper 74. */
export const FnLwtSeg6StoreBytes: BuiltinFunc = new BuiltinFunc(74);

/** `bpf_lwt_seg6_adjust_srh`, helper 75. */
export const FnLwtSeg6AdjustSrh: BuiltinFunc = new BuiltinFunc(75);

/** `bpf_lwt_seg6_action`, helper 76. */
export const FnLwtSeg6Action: BuiltinFunc = new BuiltinFunc(76);

/** `bpf_rc_repeat`, helper 77. */
export const FnRcRepeat: BuiltinFunc = new BuiltinFunc(77);

/** `bpf_rc_keydown`, helper 78. */
export const FnRcKeydown: BuiltinFunc = new BuiltinFunc(78);

/** `bpf_skb_cgroup_id`, helper 79. */
export const FnSkbCgroupId: BuiltinFunc = new BuiltinFunc(79);

/** `bpf_get_current_cgroup_id`, helper 80. */
export const FnGetCurrentCgroupId: BuiltinFunc = new BuiltinFunc(80);

/** `bpf_get_local_storage`, helper 81. */
export const FnGetLocalStorage: BuiltinFunc = new BuiltinFunc(81);

/** `bpf_sk_select_reuseport`, helper 82. */
export const FnSkSelectReuseport: BuiltinFunc = new BuiltinFunc(82);

/** `bpf_skb_ancestor_cgroup_id`, helper 83. */
export const FnSkbAncestorCgroupId: BuiltinFunc = new BuiltinFunc(83);

/** `bpf_sk_lookup_tcp`, helper 84. */
export const FnSkLookupTcp: BuiltinFunc = new BuiltinFunc(84);

/** `bpf_sk_lookup_udp`, helper 85. */
export const FnSkLookupUdp: BuiltinFunc = new BuiltinFunc(85);

/** `bpf_sk_release`, helper 86. */
export const FnSkRelease: BuiltinFunc = new BuiltinFunc(86);

/** `bpf_map_push_elem`, helper 87. */
export const FnMapPushElem: BuiltinFunc = new BuiltinFunc(87);

/** `bpf_map_pop_elem`, helper 88. */
export const FnMapPopElem: BuiltinFunc = new BuiltinFunc(88);

/** `bpf_map_peek_elem`, helper 89. */
export const FnMapPeekElem: BuiltinFunc = new BuiltinFunc(89);

/** `bpf_msg_push_data`, helper 90. */
export const FnMsgPushData: BuiltinFunc = new BuiltinFunc(90);

/** `bpf_msg_pop_data`, helper 91. */
export const FnMsgPopData: BuiltinFunc = new BuiltinFunc(91);

/** `bpf_rc_pointer_rel`, helper 92. */
export const FnRcPointerRel: BuiltinFunc = new BuiltinFunc(92);

/** `bpf_spin_lock`, helper 93. */
export const FnSpinLock: BuiltinFunc = new BuiltinFunc(93);

/** `bpf_spin_unlock`, helper 94. */
export const FnSpinUnlock: BuiltinFunc = new BuiltinFunc(94);

/** `bpf_sk_fullsock`, helper 95. */
export const FnSkFullsock: BuiltinFunc = new BuiltinFunc(95);

/** `bpf_tcp_sock`, helper 96. */
export const FnTcpSock: BuiltinFunc = new BuiltinFunc(96);

/** `bpf_skb_ecn_set_ce`, helper 97. */
export const FnSkbEcnSetCe: BuiltinFunc = new BuiltinFunc(97);

/** `bpf_get_listener_sock`, helper 98. */
export const FnGetListenerSock: BuiltinFunc = new BuiltinFunc(98);

/** `bpf_skc_lookup_tcp`, helper 99. */
export const FnSkcLookupTcp: BuiltinFunc = new BuiltinFunc(99);

/** `bpf_tcp_check_syncookie`, helper 100. */
export const FnTcpCheckSyncookie: BuiltinFunc = new BuiltinFunc(100);

/** `bpf_sysctl_get_name`, helper 101. */
export const FnSysctlGetName: BuiltinFunc = new BuiltinFunc(101);

/** `bpf_sysctl_get_current_value`, helper 102. */
export const FnSysctlGetCurrentValue: BuiltinFunc = new BuiltinFunc(102);

/** `bpf_sysctl_get_new_value`, helper 103. */
export const FnSysctlGetNewValue: BuiltinFunc = new BuiltinFunc(103);

/** `bpf_sysctl_set_new_value`, helper 104. */
export const FnSysctlSetNewValue: BuiltinFunc = new BuiltinFunc(104);

/** `bpf_strtol`, helper 105. */
export const FnStrtol: BuiltinFunc = new BuiltinFunc(105);

/** `bpf_strtoul`, helper 106. */
export const FnStrtoul: BuiltinFunc = new BuiltinFunc(106);

/** `bpf_sk_storage_get`, helper 107. */
export const FnSkStorageGet: BuiltinFunc = new BuiltinFunc(107);

/** `bpf_sk_storage_delete`, helper 108. */
export const FnSkStorageDelete: BuiltinFunc = new BuiltinFunc(108);

/** `bpf_send_signal`, helper 109. */
export const FnSendSignal: BuiltinFunc = new BuiltinFunc(109);

/** `bpf_tcp_gen_syncookie`, helper 110. */
export const FnTcpGenSyncookie: BuiltinFunc = new BuiltinFunc(110);

/** `bpf_skb_output`, helper 111. */
export const FnSkbOutput: BuiltinFunc = new BuiltinFunc(111);

/** `bpf_probe_read_user`, helper 112. */
export const FnProbeReadUser: BuiltinFunc = new BuiltinFunc(112);

/** `bpf_probe_read_kernel`, helper 113. */
export const FnProbeReadKernel: BuiltinFunc = new BuiltinFunc(113);

/** `bpf_probe_read_user_str`, helper 114. */
export const FnProbeReadUserStr: BuiltinFunc = new BuiltinFunc(114);

/** `bpf_probe_read_kernel_str`, helper 115. */
export const FnProbeReadKernelStr: BuiltinFunc = new BuiltinFunc(115);

/** `bpf_tcp_send_ack`, helper 116. */
export const FnTcpSendAck: BuiltinFunc = new BuiltinFunc(116);

/** `bpf_send_signal_thread`, helper 117. */
export const FnSendSignalThread: BuiltinFunc = new BuiltinFunc(117);

/** `bpf_jiffies64`, helper 118. */
export const FnJiffies64: BuiltinFunc = new BuiltinFunc(118);

/** `bpf_read_branch_records`, helper 119. */
export const FnReadBranchRecords: BuiltinFunc = new BuiltinFunc(119);

/** `bpf_get_ns_current_pid_tgid`, helper 120. */
export const FnGetNsCurrentPidTgid: BuiltinFunc = new BuiltinFunc(120);

/** `bpf_xdp_output`, helper 121. */
export const FnXdpOutput: BuiltinFunc = new BuiltinFunc(121);

/** `bpf_get_netns_cookie`, helper 122. */
export const FnGetNetnsCookie: BuiltinFunc = new BuiltinFunc(122);

/** `bpf_get_current_ancestor_cgroup_id`, helper 123. */
export const FnGetCurrentAncestorCgroupId: BuiltinFunc = new BuiltinFunc(123);

/** `bpf_sk_assign`, helper 124. */
export const FnSkAssign: BuiltinFunc = new BuiltinFunc(124);

/** `bpf_ktime_get_boot_ns`, helper 125. */
export const FnKtimeGetBootNs: BuiltinFunc = new BuiltinFunc(125);

/** `bpf_seq_printf`, helper 126. */
export const FnSeqPrintf: BuiltinFunc = new BuiltinFunc(126);

/** `bpf_seq_write`, helper 127. */
export const FnSeqWrite: BuiltinFunc = new BuiltinFunc(127);

/** `bpf_sk_cgroup_id`, helper 128. */
export const FnSkCgroupId: BuiltinFunc = new BuiltinFunc(128);

/** `bpf_sk_ancestor_cgroup_id`, helper 129. */
export const FnSkAncestorCgroupId: BuiltinFunc = new BuiltinFunc(129);

/** `bpf_ringbuf_output`, helper 130. */
export const FnRingbufOutput: BuiltinFunc = new BuiltinFunc(130);

/** `bpf_ringbuf_reserve`, helper 131. */
export const FnRingbufReserve: BuiltinFunc = new BuiltinFunc(131);

/** `bpf_ringbuf_submit`, helper 132. */
export const FnRingbufSubmit: BuiltinFunc = new BuiltinFunc(132);

/** `bpf_ringbuf_discard`, helper 133. */
export const FnRingbufDiscard: BuiltinFunc = new BuiltinFunc(133);

/** `bpf_ringbuf_query`, helper 134. */
export const FnRingbufQuery: BuiltinFunc = new BuiltinFunc(134);

/** `bpf_csum_level`, helper 135. */
export const FnCsumLevel: BuiltinFunc = new BuiltinFunc(135);

/** `bpf_skc_to_tcp6_sock`, helper 136. */
export const FnSkcToTcp6Sock: BuiltinFunc = new BuiltinFunc(136);

/** `bpf_skc_to_tcp_sock`, helper 137. */
export const FnSkcToTcpSock: BuiltinFunc = new BuiltinFunc(137);

/** `bpf_skc_to_tcp_timewait_sock`, helper 138. */
export const FnSkcToTcpTimewaitSock: BuiltinFunc = new BuiltinFunc(138);

/** `bpf_skc_to_tcp_request_sock`, helper 139. */
export const FnSkcToTcpRequestSock: BuiltinFunc = new BuiltinFunc(139);

/** `bpf_skc_to_udp6_sock`, helper 140. */
export const FnSkcToUdp6Sock: BuiltinFunc = new BuiltinFunc(140);

/** `bpf_get_task_stack`, helper 141. */
export const FnGetTaskStack: BuiltinFunc = new BuiltinFunc(141);

/** `bpf_load_hdr_opt`, helper 142. */
export const FnLoadHdrOpt: BuiltinFunc = new BuiltinFunc(142);

/** `bpf_store_hdr_opt`, helper 143. */
export const FnStoreHdrOpt: BuiltinFunc = new BuiltinFunc(143);

/** `bpf_reserve_hdr_opt`, helper 144. */
export const FnReserveHdrOpt: BuiltinFunc = new BuiltinFunc(144);

/** `bpf_inode_storage_get`, helper 145. */
export const FnInodeStorageGet: BuiltinFunc = new BuiltinFunc(145);

/** `bpf_inode_storage_delete`, helper 146. */
export const FnInodeStorageDelete: BuiltinFunc = new BuiltinFunc(146);

/** `bpf_d_path`, helper 147. */
export const FnDPath: BuiltinFunc = new BuiltinFunc(147);

/** `bpf_copy_from_user`, helper 148. */
export const FnCopyFromUser: BuiltinFunc = new BuiltinFunc(148);

/** `bpf_snprintf_btf`, helper 149. */
export const FnSnprintfBtf: BuiltinFunc = new BuiltinFunc(149);

/** `bpf_seq_printf_btf`, helper 150. */
export const FnSeqPrintfBtf: BuiltinFunc = new BuiltinFunc(150);

/** `bpf_skb_cgroup_classid`, helper 151. */
export const FnSkbCgroupClassid: BuiltinFunc = new BuiltinFunc(151);

/** `bpf_redirect_neigh`, helper 152. */
export const FnRedirectNeigh: BuiltinFunc = new BuiltinFunc(152);

/** `bpf_per_cpu_ptr`, helper 153. */
export const FnPerCpuPtr: BuiltinFunc = new BuiltinFunc(153);

/** `bpf_this_cpu_ptr`, helper 154. */
export const FnThisCpuPtr: BuiltinFunc = new BuiltinFunc(154);

/** `bpf_redirect_peer`, helper 155. */
export const FnRedirectPeer: BuiltinFunc = new BuiltinFunc(155);

/** `bpf_task_storage_get`, helper 156. */
export const FnTaskStorageGet: BuiltinFunc = new BuiltinFunc(156);

/** `bpf_task_storage_delete`, helper 157. */
export const FnTaskStorageDelete: BuiltinFunc = new BuiltinFunc(157);

/** `bpf_get_current_task_btf`, helper 158. */
export const FnGetCurrentTaskBtf: BuiltinFunc = new BuiltinFunc(158);

/** `bpf_bprm_opts_set`, helper 159. */
export const FnBprmOptsSet: BuiltinFunc = new BuiltinFunc(159);

/** `bpf_ktime_get_coarse_ns`, helper 160. */
export const FnKtimeGetCoarseNs: BuiltinFunc = new BuiltinFunc(160);

/** `bpf_ima_inode_hash`, helper 161. */
export const FnImaInodeHash: BuiltinFunc = new BuiltinFunc(161);

/** `bpf_sock_from_file`, helper 162. */
export const FnSockFromFile: BuiltinFunc = new BuiltinFunc(162);

/** `bpf_check_mtu`, helper 163. */
export const FnCheckMtu: BuiltinFunc = new BuiltinFunc(163);

/** `bpf_for_each_map_elem`, helper 164. */
export const FnForEachMapElem: BuiltinFunc = new BuiltinFunc(164);

/** `bpf_snprintf`, helper 165. */
export const FnSnprintf: BuiltinFunc = new BuiltinFunc(165);

/** `bpf_sys_bpf`, helper 166. */
export const FnSysBpf: BuiltinFunc = new BuiltinFunc(166);

/** `bpf_btf_find_by_name_kind`, helper 167. */
export const FnBtfFindByNameKind: BuiltinFunc = new BuiltinFunc(167);

/** `bpf_sys_close`, helper 168. */
export const FnSysClose: BuiltinFunc = new BuiltinFunc(168);

/** `bpf_timer_init`, helper 169. */
export const FnTimerInit: BuiltinFunc = new BuiltinFunc(169);

/** `bpf_timer_set_callback`, helper 170. */
export const FnTimerSetCallback: BuiltinFunc = new BuiltinFunc(170);

/** `bpf_timer_start`, helper 171. */
export const FnTimerStart: BuiltinFunc = new BuiltinFunc(171);

/** `bpf_timer_cancel`, helper 172. */
export const FnTimerCancel: BuiltinFunc = new BuiltinFunc(172);

/** `bpf_get_func_ip`, helper 173. */
export const FnGetFuncIp: BuiltinFunc = new BuiltinFunc(173);

/** `bpf_get_attach_cookie`, helper 174. */
export const FnGetAttachCookie: BuiltinFunc = new BuiltinFunc(174);

/** `bpf_task_pt_regs`, helper 175. */
export const FnTaskPtRegs: BuiltinFunc = new BuiltinFunc(175);

/** `bpf_get_branch_snapshot`, helper 176. */
export const FnGetBranchSnapshot: BuiltinFunc = new BuiltinFunc(176);

/** `bpf_trace_vprintk`, helper 177. */
export const FnTraceVprintk: BuiltinFunc = new BuiltinFunc(177);

/** `bpf_skc_to_unix_sock`, helper 178. */
export const FnSkcToUnixSock: BuiltinFunc = new BuiltinFunc(178);

/** `bpf_kallsyms_lookup_name`, helper 179. */
export const FnKallsymsLookupName: BuiltinFunc = new BuiltinFunc(179);

/** `bpf_find_vma`, helper 180. */
export const FnFindVma: BuiltinFunc = new BuiltinFunc(180);

/** `bpf_loop`, helper 181. */
export const FnLoop: BuiltinFunc = new BuiltinFunc(181);

/** `bpf_strncmp`, helper 182. */
export const FnStrncmp: BuiltinFunc = new BuiltinFunc(182);

/** `bpf_get_func_arg`, helper 183. */
export const FnGetFuncArg: BuiltinFunc = new BuiltinFunc(183);

/** `bpf_get_func_ret`, helper 184. */
export const FnGetFuncRet: BuiltinFunc = new BuiltinFunc(184);

/** `bpf_get_func_arg_cnt`, helper 185. */
export const FnGetFuncArgCnt: BuiltinFunc = new BuiltinFunc(185);

/** `bpf_get_retval`, helper 186. */
export const FnGetRetval: BuiltinFunc = new BuiltinFunc(186);

/** `bpf_set_retval`, helper 187. */
export const FnSetRetval: BuiltinFunc = new BuiltinFunc(187);

/** `bpf_xdp_get_buff_len`, helper 188. */
export const FnXdpGetBuffLen: BuiltinFunc = new BuiltinFunc(188);

/** `bpf_xdp_load_bytes`, helper 189. */
export const FnXdpLoadBytes: BuiltinFunc = new BuiltinFunc(189);

/** `bpf_xdp_store_bytes`, helper 190. */
export const FnXdpStoreBytes: BuiltinFunc = new BuiltinFunc(190);

/** `bpf_copy_from_user_task`, helper 191. */
export const FnCopyFromUserTask: BuiltinFunc = new BuiltinFunc(191);

/** `bpf_skb_set_tstamp`, helper 192. */
export const FnSkbSetTstamp: BuiltinFunc = new BuiltinFunc(192);

/** `bpf_ima_file_hash`, helper 193. */
export const FnImaFileHash: BuiltinFunc = new BuiltinFunc(193);

/** `bpf_kptr_xchg`, helper 194. */
export const FnKptrXchg: BuiltinFunc = new BuiltinFunc(194);

/** `bpf_map_lookup_percpu_elem`, helper 195. */
export const FnMapLookupPercpuElem: BuiltinFunc = new BuiltinFunc(195);

/** `bpf_skc_to_mptcp_sock`, helper 196. */
export const FnSkcToMptcpSock: BuiltinFunc = new BuiltinFunc(196);

/** `bpf_dynptr_from_mem`, helper 197. */
export const FnDynptrFromMem: BuiltinFunc = new BuiltinFunc(197);

/** `bpf_ringbuf_reserve_dynptr`, helper 198. */
export const FnRingbufReserveDynptr: BuiltinFunc = new BuiltinFunc(198);

/** `bpf_ringbuf_submit_dynptr`, helper 199. */
export const FnRingbufSubmitDynptr: BuiltinFunc = new BuiltinFunc(199);

/** `bpf_ringbuf_discard_dynptr`, helper 200. */
export const FnRingbufDiscardDynptr: BuiltinFunc = new BuiltinFunc(200);

/** `bpf_dynptr_read`, helper 201. */
export const FnDynptrRead: BuiltinFunc = new BuiltinFunc(201);

/** `bpf_dynptr_write`, helper 202. */
export const FnDynptrWrite: BuiltinFunc = new BuiltinFunc(202);

/** `bpf_dynptr_data`, helper 203. */
export const FnDynptrData: BuiltinFunc = new BuiltinFunc(203);

/** `bpf_tcp_raw_gen_syncookie_ipv4`, helper 204. */
export const FnTcpRawGenSyncookieIpv4: BuiltinFunc = new BuiltinFunc(204);

/** `bpf_tcp_raw_gen_syncookie_ipv6`, helper 205. */
export const FnTcpRawGenSyncookieIpv6: BuiltinFunc = new BuiltinFunc(205);

/** `bpf_tcp_raw_check_syncookie_ipv4`, helper 206. */
export const FnTcpRawCheckSyncookieIpv4: BuiltinFunc = new BuiltinFunc(206);

/** `bpf_tcp_raw_check_syncookie_ipv6`, helper 207. */
export const FnTcpRawCheckSyncookieIpv6: BuiltinFunc = new BuiltinFunc(207);

/** `bpf_ktime_get_tai_ns`, helper 208. */
export const FnKtimeGetTaiNs: BuiltinFunc = new BuiltinFunc(208);

/** `bpf_user_ringbuf_drain`, helper 209. */
export const FnUserRingbufDrain: BuiltinFunc = new BuiltinFunc(209);

/** `bpf_cgrp_storage_get`, helper 210. */
export const FnCgrpStorageGet: BuiltinFunc = new BuiltinFunc(210);

/** `bpf_cgrp_storage_delete`, helper 211. */
export const FnCgrpStorageDelete: BuiltinFunc = new BuiltinFunc(211);
