// The seed's PC site: a static page on another origin that reads
// /api/video/:id through jQuery's JSONP transport, which adds a fresh
// callback name and a timestamp (_=) to every request.
import $ from 'jquery';
import './video.css';

const api = document.querySelector('meta[name=wings-api]').content;
// For tests: the URL of every request made and the last envelope received.
window.wingsVideo = { requests: [], last: null };

function initials(s) {
  return s.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');
}

function duration(s) {
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

function show(env) {
  window.wingsVideo.last = env;
  const state = $('#state');
  if (env.code !== 0) {
    $('#video').prop('hidden', true);
    state.addClass('error').attr('role', 'alert').text(`Error ${env.code}: ${env.msg}`);
    return;
  }
  const v = env.data;
  state.removeClass('error').attr('role', 'status').text('');
  $('#title').text(v.title);
  $('#cover').text(initials(v.title));
  $('#duration').text(duration(v.duration));
  $('#plays').text(v.playCount.toLocaleString('en-US'));
  $('#album-body').text(v.album ? `${v.album.title} · ${v.album.episodes} episodes` : 'Not part of an album');
  const degraded = (env.degraded || []).includes('stars');
  $('#stars-degraded').prop('hidden', !degraded);
  $('#stars-list').empty().append((v.stars || []).map((s) =>
    $('<li>').append($('<span class="avatar" aria-hidden="true">').text(initials(s.name)), $('<span>').text(s.name))));
  $('#video').prop('hidden', false);
}

function load(id) {
  $('#vid').val(id);
  $('#state').removeClass('error').text('Loading…');
  $.ajax({
    url: `${api}/api/video/${encodeURIComponent(id)}`,
    dataType: 'jsonp',
    cache: false, // jQuery adds _=<timestamp>
    // A fresh callback name per request, in jQuery's own format: jQuery
    // would reuse the name of a finished request.
    jsonpCallback: () => `jQuery${($.fn.jquery + Math.random()).replace(/\D/g, '')}_${Date.now()}`,
    timeout: 5000,
    beforeSend: (_xhr, settings) => { window.wingsVideo.requests.push(settings.url); },
  }).done(show).fail((_xhr, status) => {
    window.wingsVideo.last = { code: -1, msg: status };
    $('#state').addClass('error').attr('role', 'alert').text(`The video service could not be reached (${status}).`);
  });
}

$('#pick').on('submit', (ev) => {
  ev.preventDefault();
  const id = String($('#vid').val()).trim();
  history.replaceState(null, '', `?id=${encodeURIComponent(id)}`);
  load(id);
});

load(new URLSearchParams(location.search).get('id') || '42');
