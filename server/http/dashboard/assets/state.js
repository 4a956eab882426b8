// State shared by the pages: the vhost chosen in the header ("" = all vhosts) and the known vhosts.

export const state = {
  vhost: sessionStorage.getItem("warren.vhost") ?? "",
  vhosts: [],
};

/** Changes the chosen vhost (kept for the tab's session). */
export function setVhost(v) {
  state.vhost = v;
  sessionStorage.setItem("warren.vhost", v);
}
