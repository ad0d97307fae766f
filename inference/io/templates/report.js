(function(){
'use strict';
var table=document.getElementById('articles');
if(table){
  var tbody=table.tBodies[0],status=document.getElementById('sort-status');
  var value=function(row,key){
    var v=row.getAttribute('data-'+key);
    if(key==='path')return v;
    return v===''?null:parseFloat(v);
  };
  var sortBy=function(btn){
    var th=btn.parentNode,key=btn.getAttribute('data-key'),cur=th.getAttribute('aria-sort');
    var dir=cur==='descending'?'ascending':cur==='ascending'?'descending':btn.getAttribute('data-first');
    var sign=dir==='ascending'?1:-1;
    var rows=Array.prototype.slice.call(tbody.rows);
    rows.sort(function(a,b){
      var x=value(a,key),y=value(b,key);
      if(x===null||y===null){if(x!==y)return x===null?1:-1;}
      else if(x<y)return -sign;else if(x>y)return sign;
      return a.getAttribute('data-index')-b.getAttribute('data-index');
    });
    var frag=document.createDocumentFragment();
    rows.forEach(function(r){frag.appendChild(r);});
    tbody.appendChild(frag);
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(c){c.setAttribute('aria-sort','none');});
    th.setAttribute('aria-sort',dir);
    if(status)status.textContent='Sorted by '+btn.textContent+', '+dir+'.';
  };
  Array.prototype.forEach.call(table.querySelectorAll('th button'),function(b){
    b.addEventListener('click',function(){sortBy(b);});
  });
}
var tip=document.getElementById('tip'),current=null;
var sentence=function(t){return t&&t.closest?t.closest('.s'):null;};
var show=function(e){
  var s=sentence(e.target);
  if(!s||s===current)return;
  current=s;
  tip.textContent=s.getAttribute('title');
  tip.hidden=false;
  var r=s.getClientRects()[0]||s.getBoundingClientRect();
  var top=r.top+window.pageYOffset-tip.offsetHeight-6;
  if(top<window.pageYOffset)top=r.bottom+window.pageYOffset+6;
  var left=Math.max(4,Math.min(r.left+window.pageXOffset,
    document.documentElement.clientWidth+window.pageXOffset-tip.offsetWidth-4));
  tip.style.top=top+'px';tip.style.left=left+'px';
  s.setAttribute('aria-describedby','tip');
};
var hide=function(e){
  var s=sentence(e.target);
  if(!s||s!==current)return;
  if(e.relatedTarget&&s.contains(e.relatedTarget))return;
  if(e.type==='mouseout'&&document.activeElement===s)return;
  s.removeAttribute('aria-describedby');
  current=null;tip.hidden=true;
};
document.addEventListener('mouseover',show);document.addEventListener('focusin',show);
document.addEventListener('mouseout',hide);document.addEventListener('focusout',hide);
document.addEventListener('keydown',function(e){if(e.key==='Escape'&&current){tip.hidden=true;current=null;}});
})();
