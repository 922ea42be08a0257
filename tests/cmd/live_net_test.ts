// The live inspector's `net` and `link list` against bpftool, in a network namespace with a
// veth pair: XDP (a link), a clsact egress filter and the flow dissector agree with
// `bpftool -j net` entry for entry, and the links with `bpftool -j link list`. bpftool 7.1
// (Debian 12's) predates tcx in `net` and names no tcx link type: there the tcx entry (on
// kernels with tcx, 6.6+) is checked against what it does print — the link id and type
// number in `link list`, the program's name in `prog show`.
import { assert, assertEquals } from "@std/assert";
import { linkFeatureMissing } from "../../link/link_features.ts";
import { linkTypeName } from "../../cmd/_live/names.ts";
import { kernelTest } from "../_harness.ts";
import { inNetns, runChild, withVethPair } from "../link/_netns.ts";
import { noIproute2 } from "../link/_skips.ts";
import { assertAgrees, byId } from "./_bpftool.ts";

const fixture = new URL("./fixtures/live_net_child.ts", import.meta.url).pathname;

type Rec = Record<string, unknown>;

kernelTest("live: net and link list agree with bpftool for XDP, tcx and tc on a veth pair", () => {
  withVethPair("live", (a) => {
    const r = runChild(fixture, inNetns(a), []);
    const ours = r.net[0];
    const theirs = r.bpftool.net[0];

    // XDP: bpftool's entries, field for field, and ours is the program attached.
    assertEquals(ours.xdp.length, theirs.xdp.length);
    theirs.xdp.forEach((t: Rec, i: number) => assertAgrees(ours.xdp[i], t, `net xdp ${i}`));
    assertEquals(ours.xdp, [{
      devname: "v0",
      ifindex: ours.xdp[0].ifindex,
      mode: "driver",
      id: r.programs.xdp,
    }]);

    // tc: every entry bpftool prints (the clsact filter; tcx too with a bpftool that knows it).
    const key = (t: Rec) => `${t.devname} ${t.kind} ${t.prog_id ?? t.id}`;
    const mine = new Map<string, Rec>(ours.tc.map((t: Rec) => [key(t), t]));
    assert(theirs.tc.length >= 1, "bpftool lists the clsact filter");
    for (const t of theirs.tc) {
      assert(mine.has(key(t)), `bpftool lists ${key(t)}, we do not`);
      assertAgrees(mine.get(key(t))!, t, `net tc ${key(t)}`);
    }
    const clsact = ours.tc.filter((t: Rec) => t.kind === "clsact/egress");
    assertEquals(clsact.length, 1);
    assertEquals(clsact[0].id, r.programs.tcx);

    // tcx: ours names the program and link attached; bpftool's link and prog listings agree.
    const tcx = ours.tc.filter((t: Rec) => t.kind === "tcx/ingress");
    if (r.links.tcx === null) {
      console.log(`  tcx not compared: ${linkFeatureMissing("tcx")}`);
      assertEquals(tcx, []);
    } else {
      assertEquals(tcx.length, 1);
      assertEquals([tcx[0].prog_id, tcx[0].link_id], [r.programs.tcx, r.links.tcx]);
      const bpftoolLink = byId(r.bpftool.link, [r.links.tcx]).get(r.links.tcx)!;
      assertEquals(bpftoolLink.prog_id, tcx[0].prog_id);
      const type = bpftoolLink.type;
      assertEquals(typeof type === "number" ? linkTypeName(type) : type, "tcx");
      const bpftoolProg = byId(r.bpftool.prog, [r.programs.tcx]).get(r.programs.tcx)!;
      assertEquals(tcx[0].name, bpftoolProg.name);
    }

    // The namespace's flow dissector.
    assertEquals(theirs.flow_dissector.length, 1);
    theirs.flow_dissector.forEach((t: Rec, i: number) =>
      assertAgrees(ours.flow_dissector[i], t, `net flow_dissector ${i}`)
    );
    assertEquals(ours.flow_dissector[0].id, r.programs.dissector);

    // link list: the links, every field bpftool prints.
    const linkIds = [r.links.xdp, r.links.tcx].filter((id) => id !== null);
    const listed = byId(r.links_listed, linkIds);
    const bpftoolLinks = byId(r.bpftool.link, linkIds);
    assertEquals(listed.size, linkIds.length);
    for (const id of linkIds) {
      assertAgrees(listed.get(id)!, bpftoolLinks.get(id)!, `link ${id}`, {
        names: { type: linkTypeName },
      });
    }
    assertEquals(listed.get(r.links.xdp)!.devname, "v0");
    if (r.links.tcx !== null) assertEquals(listed.get(r.links.tcx)!.attach_type, "tcx_ingress");
  });
}, { skipIf: noIproute2 });
