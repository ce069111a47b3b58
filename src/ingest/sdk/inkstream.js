/* placeholder: the browser snippet is written next */
