element.addEventListener('click', (e) => {
  const picture = element.querySelector('img.IMAGE_CLASS');
  if (!picture) return;
  const box = picture.getBoundingClientRect();
  const side = parseInt(element.querySelector('[data-side]').dataset.side);
  const inside = e.clientX >= box.left && e.clientX < box.right && e.clientY >= box.top && e.clientY < box.bottom;
  if (!inside) { trigger('click', {outside: true}); return; }
  trigger('click', {col: Math.floor((e.clientX - box.left) / box.width * side),
                    row: Math.floor((e.clientY - box.top) / box.height * side)});
});
