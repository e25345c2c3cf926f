// The dataset upload: the file itself as the request body (the server streams it to disk),
// with the upload's progress on a <progress> element; the answer (the new dataset, or the
// validation's error naming the line and column) replaces #resultat.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("ajout");
  if (!form) return;
  const box = document.getElementById("envoi");
  const bar = document.getElementById("barre-envoi");
  const state = document.getElementById("etat-envoi");
  const result = document.getElementById("resultat");
  const button = form.querySelector("button[type=submit]");
  const percent = (share) => Math.round(share * 100) + "\u00a0%";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = form.fichier.files[0];
    if (!file) return;
    if (file.size > Number(form.dataset.limite)) {
      result.innerHTML = "";
      state.textContent = "";
      const refusal = document.createElement("p");
      refusal.className = "alerte";
      refusal.setAttribute("role", "alert");
      refusal.textContent = "Le fichier dépasse la limite d'envoi (" + form.dataset.limiteTexte + ").";
      result.append(refusal);
      return;
    }
    const query = new URLSearchParams({
      type: form.type.value, fichier: file.name, libelle: form.libelle.value, date: form.date.value,
    });
    const request = new XMLHttpRequest();
    request.open("POST", form.getAttribute("action") + "?" + query);
    request.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    request.setRequestHeader("Content-Type", "application/octet-stream");
    request.upload.addEventListener("progress", (progress) => {
      if (!progress.lengthComputable) return;
      bar.value = (100 * progress.loaded) / progress.total;
      bar.textContent = percent(progress.loaded / progress.total);
      state.textContent = "Envoi : " + percent(progress.loaded / progress.total);
    });
    request.upload.addEventListener("load", () => {
      bar.value = 100;
      state.textContent = "Fichier reçu : validation complète en cours…";
    });
    request.addEventListener("load", () => {
      button.disabled = false;
      if (request.status === 413) {
        state.textContent = "Le fichier dépasse la limite d'envoi (" + form.dataset.limiteTexte + ").";
      } else if ([200, 201, 422].includes(request.status)) {
        state.textContent = request.status < 300 ? "Terminé." : "Fichier refusé.";
        result.innerHTML = request.responseText;
      } else {
        state.textContent = "L'envoi a été refusé (statut " + request.status + ") : rechargez la page et recommencez.";
      }
    });
    request.addEventListener("error", () => {
      button.disabled = false;
      state.textContent = "L'envoi a été interrompu : vérifiez la connexion et recommencez.";
    });
    result.innerHTML = "";
    bar.value = 0;
    box.hidden = false;
    button.disabled = true;
    request.send(file);
  });
});
